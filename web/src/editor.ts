// The statement editor: a textarea over a highlighted copy of its text (SQL
// colours, and the offending token of the last error underlined), a gutter of
// line numbers, and the error's message with its line and column in place.

import type { StatementError } from "./api";
import { h, replaceChildren } from "./dom";

const KEYWORDS = new Set(
  (
    "AND AS ASC BY CONTAINS CREATE DESC DISTINCT DROP EMIT EVERY EXPLAIN FALSE FROM GROUP HAVING IN IS " +
    "LIMIT MATCHES NOT NULL OR ORDER QUERY SELECT SLIDING STREAM TRUE TUMBLING WHERE WINDOW WITH"
  ).split(" "),
);
const FUNCTIONS = new Set(["count", "sum", "avg", "min", "max"]);

/** Tokens of SQL text for colouring: comments, strings, numbers, words, the rest. */
const TOKEN = /(--[^\n]*|\/\*[\s\S]*?(?:\*\/|$))|('(?:[^']|'')*'?)|("(?:[^"]|"")*"?)|(\b\d+(?:\.\d+)?(?:[eE][+-]?\d+)?(?:ms|s|m|h)?\b)|([A-Za-z_][A-Za-z0-9_]*)/g;

/** Appends `text` to `out` as spans coloured by token class. */
function highlight(text: string, out: Node[]): void {
  let last = 0;
  for (const m of text.matchAll(TOKEN)) {
    const at = m.index ?? 0;
    if (at > last) out.push(document.createTextNode(text.slice(last, at)));
    let cls = "";
    if (m[1]) cls = "tok-comment";
    else if (m[2]) cls = "tok-string";
    else if (m[3]) cls = "tok-ident";
    else if (m[4]) cls = "tok-number";
    else if (m[5]) {
      const upper = m[5].toUpperCase();
      const next = text.slice(at + m[5].length).trimStart();
      if (FUNCTIONS.has(m[5].toLowerCase()) && next.startsWith("(")) cls = "tok-func";
      else if (KEYWORDS.has(upper)) cls = "tok-keyword";
    }
    out.push(cls ? h("span", { class: cls }, m[0]) : document.createTextNode(m[0]));
    last = at + m[0].length;
  }
  if (last < text.length) out.push(document.createTextNode(text.slice(last)));
}

/** The index in a JS string of a UTF-8 byte offset (the server counts bytes). */
export function byteOffsetToIndex(text: string, offset: number): number {
  let bytes = 0;
  let i = 0;
  while (i < text.length && bytes < offset) {
    const cp = text.codePointAt(i) ?? 0;
    bytes += cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    i += cp > 0xffff ? 2 : 1;
  }
  return i;
}

/** Where an error points: a range of the editor's text. */
interface Mark {
  start: number;
  end: number;
  line: number;
}

/** What the editor asks of the page. */
export interface EditorHooks {
  /** Runs the editor's text; resolves to the error to show, or null. */
  run(text: string): Promise<{ error: StatementError | null; message: string }>;
}

/** The statement editor, with its toolbar and message area. */
export class SqlEditor {
  readonly el: HTMLElement;
  private readonly area: HTMLTextAreaElement;
  private readonly layer: HTMLPreElement;
  private readonly gutter: HTMLElement;
  private readonly message: HTMLElement;
  private readonly runButton: HTMLButtonElement;
  private mark: Mark | null = null;

  constructor(private readonly hooks: EditorHooks, templates: [string, string][]) {
    this.area = h("textarea.editor-input", {
      spellcheck: "false",
      autocapitalize: "off",
      autocomplete: "off",
      "aria-label": "Statements",
      "data-testid": "editor",
    });
    this.layer = h("pre.editor-layer", { "aria-hidden": "true" });
    this.gutter = h("div.editor-gutter", { "aria-hidden": "true" });
    this.message = h("div.editor-message", { "data-testid": "editor-message", role: "status" });
    this.runButton = h(
      "button.btn.btn-primary",
      { type: "button", "data-testid": "run", onclick: () => void this.submit() },
      "Run",
      h("kbd", {}, "Ctrl ↵"),
    );
    const templateButtons = templates.map(([label, sql]) =>
      h(
        "button.btn.btn-ghost",
        {
          type: "button",
          title: "Put this example in the editor",
          onclick: () => {
            this.value = sql;
            this.area.focus();
          },
        },
        label,
      ),
    );
    this.el = h(
      "div.editor",
      {},
      h(
        "div.editor-frame",
        {},
        this.gutter,
        h("div.editor-stack", {}, this.layer, this.area),
      ),
      h(
        "div.editor-toolbar",
        {},
        h("span.editor-hint", {}, "Examples:"),
        ...templateButtons,
        h("span.spacer"),
        this.runButton,
      ),
      this.message,
    );
    this.area.addEventListener("input", () => {
      this.mark = null;
      this.render();
    });
    this.area.addEventListener("scroll", () => this.syncScroll());
    this.area.addEventListener("keydown", (e) => this.onKey(e));
    this.render();
  }

  get value(): string {
    return this.area.value;
  }

  set value(text: string) {
    this.area.value = text;
    this.mark = null;
    this.clearMessage();
    this.render();
  }

  private onKey(e: KeyboardEvent): void {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      void this.submit();
    } else if (e.key === "Tab" && !e.shiftKey) {
      e.preventDefault();
      this.area.setRangeText("  ", this.area.selectionStart, this.area.selectionEnd, "end");
      this.area.dispatchEvent(new Event("input"));
    }
  }

  /** Runs the text and shows the outcome. */
  async submit(): Promise<void> {
    const text = this.area.value;
    if (!text.trim()) return;
    this.runButton.disabled = true;
    try {
      const { error, message } = await this.hooks.run(text);
      if (error) this.showError(error, text);
      else this.showSuccess(message);
    } catch (e) {
      this.showError({ message: e instanceof Error ? e.message : String(e) }, text);
    } finally {
      this.runButton.disabled = false;
    }
  }

  private clearMessage(): void {
    this.message.className = "editor-message";
    replaceChildren(this.message);
  }

  private showSuccess(text: string): void {
    this.message.className = "editor-message ok";
    replaceChildren(this.message, h("span.msg-icon", {}, "✓"), h("span", {}, text));
  }

  /** Shows an error under the editor and marks its token in the text. */
  showError(err: StatementError, sent: string): void {
    this.mark = null;
    if (err.offset !== undefined && sent === this.area.value) {
      const start = byteOffsetToIndex(sent, err.offset);
      const tokenLength = err.token ? err.token.length : 0;
      this.mark = { start, end: start + tokenLength, line: err.line ?? 1 };
      this.area.focus();
      this.area.setSelectionRange(start, start + tokenLength);
      this.scrollToMark();
    }
    const where =
      err.line !== undefined && err.column !== undefined
        ? h("span.err-pos", { "data-testid": "error-position" }, `line ${err.line}, column ${err.column}`)
        : null;
    const kind = err.kind ? h("span.err-kind", {}, kindLabel(err.kind)) : null;
    const snippet = err.rendered ? h("pre.err-snippet", {}, err.rendered.split("\n").slice(1).join("\n")) : null;
    this.message.className = "editor-message error";
    replaceChildren(
      this.message,
      h("div.err-head", {}, h("span.msg-icon", {}, "!"), kind, where, h("span.err-text", { "data-testid": "error-text" }, err.message)),
      snippet,
    );
    this.render();
  }

  private scrollToMark(): void {
    if (!this.mark) return;
    const lineHeight = parseFloat(getComputedStyle(this.area).lineHeight) || 20;
    const y = (this.mark.line - 1) * lineHeight;
    if (y < this.area.scrollTop || y > this.area.scrollTop + this.area.clientHeight - lineHeight) {
      this.area.scrollTop = Math.max(0, y - this.area.clientHeight / 2);
    }
  }

  private render(): void {
    const text = this.area.value;
    const nodes: Node[] = [];
    const m = this.mark;
    if (m && m.start <= text.length) {
      highlight(text.slice(0, m.start), nodes);
      // An empty token (say, at the end of the text) still gets a visible mark.
      const token = text.slice(m.start, m.end);
      const shown = token === "" || token === "\n" ? " " : token;
      nodes.push(h("mark.err-token", { "data-testid": "error-mark" }, shown));
      highlight(text.slice(m.end), nodes);
    } else {
      highlight(text, nodes);
    }
    // A trailing newline needs a character after it to take up a line.
    nodes.push(document.createTextNode("\n"));
    this.layer.replaceChildren(...nodes);
    const lines = text.split("\n").length;
    const numbers: Node[] = [];
    for (let i = 1; i <= lines; i++) {
      numbers.push(h("div", { class: m && m.line === i ? "err-line" : "" }, String(i)));
    }
    this.gutter.replaceChildren(...numbers);
    this.syncScroll();
  }

  private syncScroll(): void {
    this.layer.scrollTop = this.area.scrollTop;
    this.layer.scrollLeft = this.area.scrollLeft;
    this.gutter.scrollTop = this.area.scrollTop;
  }
}

function kindLabel(kind: string): string {
  switch (kind) {
    case "syntax":
      return "Syntax error";
    case "invalid":
      return "Invalid";
    case "conflict":
      return "Conflict";
    case "not_found":
      return "Not found";
    default:
      return kind;
  }
}
