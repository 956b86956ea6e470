//! Data-driven parser tests.
//!
//! Every `tests/parser/*.test` file holds cases of the form
//!
//! ```text
//! === case name
//! statement text (any number of lines)
//! ---
//! expected output
//! ```
//!
//! The expected output is the canonical text (`Display`) of each parsed
//! statement, one per line and ended by `;`, or the rendered error. Lines
//! before the first `===` are comments. Run with `UPDATE_EXPECT=1` to rewrite
//! the expectations from the parser's actual output (then review the diff).
//!
//! Every good case is also round-tripped: its canonical text must parse back
//! to an equal tree (spans ignored) and print identically, and the text under
//! each statement's span must parse back to that statement alone.

use shoal::parser::{parse_statements, Statement};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

struct Case {
    name: String,
    input: String,
    expected: String,
}

struct File {
    header: String,
    cases: Vec<Case>,
}

fn read_cases(path: &Path) -> File {
    let text = std::fs::read_to_string(path).expect("readable case file");
    let mut header = String::new();
    let mut cases: Vec<Case> = Vec::new();
    let mut in_expected = false;
    for line in text.lines() {
        if let Some(name) = line.strip_prefix("=== ") {
            cases.push(Case {
                name: name.trim().to_string(),
                input: String::new(),
                expected: String::new(),
            });
            in_expected = false;
            continue;
        }
        let Some(case) = cases.last_mut() else {
            header.push_str(line);
            header.push('\n');
            continue;
        };
        if line == "---" && !in_expected {
            in_expected = true;
        } else if in_expected {
            case.expected.push_str(line);
            case.expected.push('\n');
        } else {
            case.input.push_str(line);
            case.input.push('\n');
        }
    }
    for case in &mut cases {
        case.input = case.input.trim_end_matches('\n').to_string();
        case.expected = case.expected.trim_end().to_string();
        assert!(
            !case.input.trim().is_empty() || case.name.contains("empty"),
            "{}: case `{}` has no input",
            path.display(),
            case.name
        );
    }
    File { header, cases }
}

fn canonical(stmts: &[Statement]) -> String {
    let mut out = String::new();
    for s in stmts {
        writeln!(out, "{s};").unwrap();
    }
    out.trim_end().to_string()
}

/// The output for one input, plus round-trip checks for good input.
fn run(name: &str, input: &str) -> String {
    let parsed = match parse_statements(input) {
        Ok(parsed) => parsed,
        Err(e) => return e.render(input),
    };
    let stmts: Vec<Statement> = parsed.iter().map(|s| s.statement.clone()).collect();
    let text = canonical(&stmts);
    let again: Vec<Statement> = parse_statements(&text)
        .unwrap_or_else(|e| {
            panic!(
                "{name}: canonical text does not parse:\n{}",
                e.render(&text)
            )
        })
        .into_iter()
        .map(|s| s.statement)
        .collect();
    assert_eq!(again, stmts, "{name}: round trip changed the tree");
    assert_eq!(canonical(&again), text, "{name}: printing is not stable");
    for s in &parsed {
        let piece = &input[s.span.start..s.span.end];
        assert!(!piece.ends_with(';'), "{name}: span includes ';'");
        let alone = parse_statements(piece)
            .unwrap_or_else(|e| panic!("{name}: span text does not parse:\n{}", e.render(piece)));
        assert_eq!(alone.len(), 1, "{name}: span `{piece}`");
        assert_eq!(alone[0].statement, s.statement, "{name}: span `{piece}`");
    }
    if text.is_empty() {
        "(no statements)".to_string()
    } else {
        text
    }
}

fn case_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/parser");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/parser exists")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "test"))
        .collect();
    files.sort();
    files
}

#[test]
fn parser_cases() {
    let update = std::env::var_os("UPDATE_EXPECT").is_some();
    let mut failures = Vec::new();
    let mut total = 0;
    let mut errors = 0;
    for path in case_files() {
        let file = read_cases(&path);
        let mut rewritten = file.header.clone();
        for case in &file.cases {
            total += 1;
            let actual = run(&case.name, &case.input);
            if actual.starts_with("line ") {
                errors += 1;
            }
            if actual != case.expected {
                failures.push(format!(
                    "{} / {}\n--- input\n{}\n--- expected\n{}\n--- actual\n{}\n",
                    path.display(),
                    case.name,
                    case.input,
                    case.expected,
                    actual
                ));
            }
            write!(
                rewritten,
                "=== {}\n{}\n---\n{}\n\n",
                case.name, case.input, actual
            )
            .unwrap();
        }
        if update {
            std::fs::write(&path, rewritten.trim_end().to_string() + "\n").expect("writable");
        }
    }
    assert!(total >= 50, "only {total} cases found");
    assert!(errors >= 15, "only {errors} error cases");
    if !update {
        assert!(
            failures.is_empty(),
            "{} of {total} cases failed (UPDATE_EXPECT=1 rewrites expectations):\n\n{}",
            failures.len(),
            failures.join("\n")
        );
    }
}
