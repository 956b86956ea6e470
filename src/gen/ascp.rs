//! Deterministic, realistic Aspera `ascp` transfer logs, and standing
//! queries over them.
//!
//! [`AscpGenerator`] simulates `sessions` concurrent transfer sessions on a
//! few hosts. Each session goes through the lines a real `ascp` writes:
//!
//! ```text
//! Jan 23 10:47:40 aspera-03 ascp[5276]: LOG FASP Session Start uuid=… op=recv status=started source=… peer=…
//! Jan 23 10:47:40 aspera-03 ascp[5276]: LOG FASP Session Parameters uuid=… user="aspera" targetrate=80000000 …
//! Jan 23 10:47:40 aspera-03 ascp[5276]: LOG FASP Transfer Start uuid=… file="/data/…" size=385957572 …
//! Jan 23 10:47:43 aspera-03 ascp[5276]: LOG Receiver bl t/o/r/d=5292/5292/0/0 rex_rtt l/h/s/o=… rate t/m/c/n/vl/vr/r=… prog t/f/e=… rcvD=0
//! …  one statistics line about every second while the file moves …
//! Jan 23 10:48:27 aspera-03 ascp[5276]: LOG FASP Transfer Stop uuid=… status=success … rate=69.28Mbps elapsed=44.57s
//! Jan 23 10:48:27 aspera-03 ascp[5276]: LOG FASP Session Stop uuid=… status=success files=1 size=… rate=…
//! ```
//!
//! Values evolve per session: the current rate climbs toward the target and
//! drops on loss bursts, bytes and blocks accumulate, retransmissions follow
//! the session's loss rate, round-trip times jitter around the path's base
//! RTT (with running low/high marks). About 1 session in 40 fails with an
//! `ERR` line. Statistics lines are ~95% of the output. Times advance
//! monotonically (second resolution, syslog style, no year), from
//! [`AscpConfig::start_ms`].
//!
//! [`generate_ascp_queries`] writes the matching `CREATE STREAM` and a mix of
//! standing queries; its first query is the per-session report that
//! `bench/ascp_baseline.py` computes too.

use super::rng::Rng;
use crate::exec::decode::timefmt::civil_from_days;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

/// 2024-01-23T00:00:00Z in epoch ms: the default start of the logs.
pub const JAN_23_2024_MS: i64 = 1_705_968_000_000;

/// What to generate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AscpConfig {
    /// Lines in total.
    pub records: u64,
    /// Files to split them over, in time order (at least 1).
    pub files: usize,
    /// The PRNG seed: same seed, same bytes.
    pub seed: u64,
    /// Time of the first line, epoch ms (UTC). The lines carry no year:
    /// read them with `year` set to this time's year.
    pub start_ms: i64,
    /// Hosts running `ascp`.
    pub hosts: usize,
    /// Sessions running at any time.
    pub sessions: usize,
}

impl Default for AscpConfig {
    /// 1M lines in one file, seed 42, 8 hosts, 24 concurrent sessions, from
    /// 2024-01-23.
    fn default() -> AscpConfig {
        AscpConfig {
            records: 1_000_000,
            files: 1,
            seed: 42,
            start_ms: JAN_23_2024_MS,
            hosts: 8,
            sessions: 24,
        }
    }
}

/// Where a session is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    /// Next: `FASP Session Start`, then parameters, then transfer start.
    Start,
    Params,
    TransferStart,
    /// Statistics lines until the file is through (or an error).
    Running,
    /// The error line, then the stops with `status=failed`.
    Error,
    TransferStop,
    SessionStop,
}

#[derive(Clone, Debug)]
struct Session {
    host: usize,
    pid: u64,
    receiver: bool,
    uuid: String,
    file: String,
    peer: String,
    size: u64,
    target_bps: u64,
    min_bps: u64,
    rtt_base_ms: u64,
    loss_per_mille: u64,
    fails: bool,
    stage: Stage,
    // Evolving state.
    start_ms: i64,
    last_ms: i64,
    bytes: u64,
    blocks_orig: u64,
    blocks_rex: u64,
    blocks_drop: u64,
    rate_bps: u64,
    rtt_s: u64,
    rtt_lo: u64,
    rtt_hi: u64,
    rex_reqs: u64,
}

/// Payload bytes of one FASP block.
const BLOCK: u64 = 1_464;

const TARGET_RATES: [u64; 6] = [
    10_000_000,
    50_000_000,
    80_000_000,
    100_000_000,
    300_000_000,
    1_000_000_000,
];

const DIRS: [&str; 6] = [
    "/data/sequencing/run",
    "/ingest/video/raw",
    "/backup/db/nightly",
    "/projects/genomics/bam",
    "/media/archive/master",
    "/exchange/partner/drop",
];

const EXTS: [&str; 5] = ["bam", "mxf", "tar.gz", "fastq.gz", "mov"];

const ERRORS: [&str; 4] = [
    "Failed to open file \"{file}\" for writing: Permission denied",
    "Session timeout: no data received from peer for 30 seconds",
    "Peer aborted session",
    "Disk write failed: No space left on device",
];

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Generates ascp log lines one at a time.
pub struct AscpGenerator {
    rng: Rng,
    hosts: Vec<String>,
    next_pid: Vec<u64>,
    sessions: Vec<Session>,
    now_ms: i64,
    /// Mean ms between lines: about one line per session per second.
    step_ms: u64,
    made: u64,
}

impl AscpGenerator {
    /// A generator for `cfg` (record count and files are ignored here).
    pub fn new(cfg: &AscpConfig) -> AscpGenerator {
        let mut rng = Rng::new(cfg.seed ^ 0xA5C9_0000);
        let hosts: Vec<String> = (0..cfg.hosts.max(1))
            .map(|i| format!("aspera-{:02}", i + 1))
            .collect();
        let next_pid = hosts
            .iter()
            .map(|_| rng.range_inclusive(1_000, 30_000))
            .collect();
        let mut g = AscpGenerator {
            rng,
            hosts,
            next_pid,
            sessions: Vec::new(),
            now_ms: cfg.start_ms,
            step_ms: (1_000 / cfg.sessions.max(1) as u64).max(1),
            made: 0,
        };
        for _ in 0..cfg.sessions.max(1) {
            let s = g.new_session();
            g.sessions.push(s);
        }
        g
    }

    /// Lines made so far.
    pub fn lines(&self) -> u64 {
        self.made
    }

    fn new_session(&mut self) -> Session {
        let r = &mut self.rng;
        let host = r.below(self.hosts.len() as u64) as usize;
        let pid = self.next_pid[host];
        self.next_pid[host] += r.range_inclusive(1, 60);
        let target_bps = *r.pick(&TARGET_RATES);
        // Seconds of transfer at ~85% of the target: mostly a minute or two,
        // sometimes much longer.
        let secs = 5 + r.below(90) + if r.per_mille(100) { r.below(1_200) } else { 0 };
        let size = target_bps / 8 * 85 / 100 * secs + r.below(1 << 20);
        let rtt_base_ms = *r.pick(&[2u64, 8, 25, 40, 67, 110, 180, 240]);
        let loss_per_mille = *r.pick(&[0u64, 0, 0, 1, 2, 5, 10, 30]);
        let uuid = format!(
            "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
            r.next_u64() as u32,
            r.below(1 << 16),
            0x4000 | r.below(1 << 12),
            0x8000 | r.below(1 << 14),
            r.next_u64() >> 16
        );
        let file = format!(
            "{}/{:05}/part-{:04}.{}",
            r.pick(&DIRS),
            r.below(100_000),
            r.below(10_000),
            r.pick(&EXTS)
        );
        let peer = format!(
            "{}.{}.{}.{}",
            r.pick(&[198u64, 203, 192, 100]),
            r.below(256),
            r.below(256),
            1 + r.below(254)
        );
        Session {
            host,
            pid,
            receiver: r.per_mille(600),
            uuid,
            file,
            peer,
            size,
            target_bps,
            min_bps: if r.per_mille(300) { target_bps / 10 } else { 0 },
            rtt_base_ms,
            loss_per_mille,
            fails: r.per_mille(25),
            stage: Stage::Start,
            start_ms: self.now_ms,
            last_ms: self.now_ms,
            bytes: 0,
            blocks_orig: 0,
            blocks_rex: 0,
            blocks_drop: 0,
            rate_bps: target_bps / 4,
            rtt_s: rtt_base_ms,
            rtt_lo: rtt_base_ms,
            rtt_hi: rtt_base_ms,
            rex_reqs: 0,
        }
    }

    /// Appends the next line (with its `\n`) to `buf`.
    pub fn next_line(&mut self, buf: &mut String) {
        self.now_ms += self.rng.below(self.step_ms * 2 + 1) as i64;
        let i = self.rng.below(self.sessions.len() as u64) as usize;
        let now = self.now_ms;
        let (host, pid) = (self.sessions[i].host, self.sessions[i].pid);
        push_header(buf, now, &self.hosts[host], pid);
        let done = self.session_line(i, now, buf);
        buf.push('\n');
        if done {
            self.sessions[i] = self.new_session();
        }
        self.made += 1;
    }

    /// Writes session `i`'s next message; true when the session ended.
    fn session_line(&mut self, i: usize, now: i64, buf: &mut String) -> bool {
        let rng = &mut self.rng;
        let s = &mut self.sessions[i];
        let op = if s.receiver { "recv" } else { "send" };
        match s.stage {
            Stage::Start => {
                let local = 10 + s.host as u64;
                buf.push_str("LOG FASP Session Start uuid=");
                buf.push_str(&s.uuid);
                buf.push_str(" op=");
                buf.push_str(op);
                buf.push_str(" status=started source=");
                buf.push_str(if s.receiver { "-" } else { &s.file });
                buf.push_str(" dest=");
                buf.push_str(if s.receiver { &s.file } else { "-" });
                buf.push_str(" source_prefix=- local=10.0.");
                push_u64(buf, local);
                buf.push_str(".5:33001 peer=");
                buf.push_str(&s.peer);
                buf.push_str(":33001 tcp_port=22 os=\"Linux 5.15.0\" ver=4.4.3.891 lic=10:1:91873 peeros=\"Linux\" peerver=4.4.3.891 proto_sess=20020 proto_udp=20000 proto_bwmeas=20000 proto_data=20014");
                s.stage = Stage::Params;
            }
            Stage::Params => {
                buf.push_str("LOG FASP Session Parameters uuid=");
                buf.push_str(&s.uuid);
                buf.push_str(" userid=0 user=\"aspera\" targetrate=");
                push_u64(buf, s.target_bps);
                buf.push_str(" minrate=");
                push_u64(buf, s.min_bps);
                buf.push_str(" rate_policy=fair cipher=aes-128 resume=0 create=0 ovr=1 times=0 precalc=yes mf=0 mf_path=- mf_suffix=.aspera-inprogress partial_file_suffix= files_encrypt=no files_decrypt=no file_csum=NONE dgram_sz=0 prepostcmd=- tcp_mode=no rtt_auto=yes cookie=\"-\" vl_proto_ver=1 peer_vl_proto_ver=1 vl_local=0 vlink_remote=0 vl_sess_id=4096 srcbase=- rd_sz=0 wr_sz=0 cluster_num_nodes=1 cluster_node_id=0 range=0-0 keepalive=no test_login=no proxy_ip=- net_rc_alg=alg_delay exclude_older/newer_than=0/0");
                s.stage = Stage::TransferStart;
            }
            Stage::TransferStart => {
                buf.push_str("LOG FASP Transfer Start uuid=");
                buf.push_str(&s.uuid);
                buf.push_str(" op=");
                buf.push_str(op);
                buf.push_str(" status=started file=\"");
                buf.push_str(&s.file);
                buf.push_str("\" size=");
                push_u64(buf, s.size);
                buf.push_str(" start_byte=0 rate=");
                push_mbps(buf, s.target_bps);
                buf.push_str(" loss=0.00 rexreqs=0 overhead=0.00");
                s.stage = Stage::Running;
                s.start_ms = now;
                s.last_ms = now;
            }
            Stage::Running => {
                step(s, rng, now);
                push_stats(buf, s, now);
                if s.bytes >= s.size {
                    s.stage = Stage::TransferStop;
                } else if s.fails && s.bytes * 3 >= s.size {
                    s.stage = Stage::Error;
                }
            }
            Stage::Error => {
                buf.push_str("ERR ");
                let msg = *rng.pick(&ERRORS);
                buf.push_str(&msg.replace("{file}", &s.file));
                s.stage = Stage::TransferStop;
            }
            Stage::TransferStop | Stage::SessionStop => {
                let session = s.stage == Stage::SessionStop;
                buf.push_str(if session {
                    "LOG FASP Session Stop uuid="
                } else {
                    "LOG FASP Transfer Stop uuid="
                });
                buf.push_str(&s.uuid);
                buf.push_str(" op=");
                buf.push_str(op);
                buf.push_str(if s.fails {
                    " status=failed"
                } else {
                    " status=success"
                });
                if session {
                    buf.push_str(" source=");
                    buf.push_str(if s.receiver { "-" } else { &s.file });
                    buf.push_str(" dest=");
                    buf.push_str(if s.receiver { &s.file } else { "-" });
                    buf.push_str(" peer=");
                    buf.push_str(&s.peer);
                    buf.push_str(":33001 files=1");
                } else {
                    buf.push_str(" file=\"");
                    buf.push_str(&s.file);
                    buf.push('"');
                }
                buf.push_str(" size=");
                push_u64(buf, s.bytes);
                buf.push_str(" start_byte=0 rate=");
                let ms = (now - s.start_ms).max(1) as u64;
                push_mbps(buf, s.bytes * 8 * 1000 / ms);
                buf.push_str(" elapsed=");
                push_u64(buf, ms / 1000);
                buf.push('.');
                push_2(buf, ms / 10 % 100);
                buf.push_str("s loss=");
                let total = (s.blocks_orig + s.blocks_rex).max(1);
                let loss = s.blocks_rex * 10_000 / total;
                push_u64(buf, loss / 100);
                buf.push('.');
                push_2(buf, loss % 100);
                buf.push_str(" rexreqs=");
                push_u64(buf, s.rex_reqs);
                buf.push_str(" overhead=0.00");
                if session {
                    return true;
                }
                s.stage = Stage::SessionStop;
            }
        }
        false
    }
}

/// Advances a running session to `now`.
fn step(s: &mut Session, rng: &mut Rng, now: i64) {
    let dt = (now - s.last_ms).max(0) as u64;
    s.last_ms = now;
    // The rate climbs toward the target; a loss burst cuts it.
    if rng.per_mille((s.loss_per_mille * 8) as u32) {
        s.rate_bps = (s.rate_bps * 3 / 4).max(s.min_bps);
    } else {
        s.rate_bps += (s.target_bps - s.rate_bps.min(s.target_bps)) / 3;
    }
    s.rate_bps = s
        .rate_bps
        .min(s.target_bps)
        .saturating_sub(rng.below(s.target_bps / 50 + 1));
    let moved = (s.rate_bps / 8 * dt / 1000).min(s.size - s.bytes.min(s.size));
    s.bytes += moved;
    let blocks = moved.div_ceil(BLOCK);
    s.blocks_orig += blocks;
    let rex =
        blocks * s.loss_per_mille / 1000 + u64::from(rng.per_mille((s.loss_per_mille * 20) as u32));
    s.blocks_rex += rex;
    s.rex_reqs += u64::from(rex > 0);
    s.blocks_drop += u64::from(rng.per_mille((s.loss_per_mille * 5) as u32));
    let jitter = rng.below(s.rtt_base_ms / 4 + 2);
    let sample = s.rtt_base_ms + jitter + if rng.per_mille(30) { s.rtt_base_ms } else { 0 };
    s.rtt_s = (s.rtt_s * 7 + sample) / 8;
    s.rtt_lo = s.rtt_lo.min(sample);
    s.rtt_hi = s.rtt_hi.max(sample);
}

/// A statistics line.
fn push_stats(buf: &mut String, s: &Session, now: i64) {
    let groups: [(&str, &str, &[u64]); 10] = [
        (
            "bl",
            "t/o/r/d",
            &[
                s.blocks_orig + s.blocks_rex,
                s.blocks_orig,
                s.blocks_rex,
                s.blocks_drop,
            ],
        ),
        (
            "rex_rtt",
            "l/h/s/o",
            &[s.rtt_lo, s.rtt_hi, s.rtt_s, s.rtt_s / 8],
        ),
        (
            "ooo_rtt",
            "l/h/s/o",
            &[s.rtt_lo, s.rtt_hi + 3, s.rtt_s + 1, s.rtt_s / 9],
        ),
        (
            "rate_rtt",
            "b/l/h/s/r/f",
            &[
                s.rtt_base_ms,
                s.rtt_lo,
                s.rtt_hi,
                s.rtt_s,
                0,
                u64::from(s.rate_bps < s.target_bps / 2),
            ],
        ),
        ("ctl", "bm/bs", &[0, 0]),
        (
            "rex",
            "n/s/q/v/a/r",
            &[
                s.rex_reqs,
                s.blocks_rex,
                0,
                0,
                s.blocks_rex / 2,
                s.blocks_rex - s.blocks_rex / 2,
            ],
        ),
        ("disk", "l/h/b", &[0, 2 + s.rtt_s % 7, s.bytes / (1 << 30)]),
        ("vlink", "lq/lo/rq/ro", &[0, 0, 0, 0]),
        (
            "rate",
            "t/m/c/n/vl/vr/r",
            &[
                s.target_bps,
                s.min_bps,
                s.rate_bps,
                s.rate_bps,
                s.target_bps,
                s.target_bps,
                s.target_bps,
            ],
        ),
        (
            "prog",
            "t/f/e",
            &[s.bytes, s.size, ((now - s.start_ms).max(0) as u64) * 1000],
        ),
    ];
    buf.push_str(if s.receiver {
        "LOG Receiver"
    } else {
        "LOG Sender"
    });
    for (name, keys, values) in groups {
        buf.push(' ');
        buf.push_str(name);
        buf.push(' ');
        buf.push_str(keys);
        buf.push('=');
        for (k, v) in values.iter().enumerate() {
            if k > 0 {
                buf.push('/');
            }
            push_u64(buf, *v);
        }
    }
    if s.receiver {
        buf.push_str(" rcvD=");
        push_u64(buf, s.blocks_drop);
    } else {
        buf.push_str(" sndD=");
        push_u64(buf, s.blocks_rex / 3);
    }
}

/// `Jan 23 10:47:43 host ascp[pid]: `.
fn push_header(buf: &mut String, now_ms: i64, host: &str, pid: u64) {
    let secs = now_ms.div_euclid(1000);
    let (_, m, d) = civil_from_days(secs.div_euclid(86_400));
    let tod = secs.rem_euclid(86_400) as u64;
    buf.push_str(MONTHS[(m - 1) as usize]);
    buf.push(' ');
    if d < 10 {
        buf.push(' ');
    }
    push_u64(buf, d as u64);
    buf.push(' ');
    push_2(buf, tod / 3600);
    buf.push(':');
    push_2(buf, tod / 60 % 60);
    buf.push(':');
    push_2(buf, tod % 60);
    buf.push(' ');
    buf.push_str(host);
    buf.push_str(" ascp[");
    push_u64(buf, pid);
    buf.push_str("]: ");
}

fn push_u64(buf: &mut String, mut v: u64) {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    buf.push_str(std::str::from_utf8(&tmp[i..]).expect("digits"));
}

fn push_2(buf: &mut String, v: u64) {
    buf.push((b'0' + (v / 10 % 10) as u8) as char);
    buf.push((b'0' + (v % 10) as u8) as char);
}

/// `69.28Mbps`.
fn push_mbps(buf: &mut String, bps: u64) {
    push_u64(buf, bps / 1_000_000);
    buf.push('.');
    push_2(buf, bps / 10_000 % 100);
    buf.push_str("Mbps");
}

/// What [`write_ascp`] wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AscpSummary {
    /// Lines written.
    pub records: u64,
    /// The files, in order (`ascp-00000.log`, …).
    pub files: Vec<PathBuf>,
    /// Bytes written.
    pub bytes: u64,
}

/// Writes `cfg.records` lines into `cfg.files` files `ascp-00000.log`, …
/// under `out_dir` (created if missing), in time order.
pub fn write_ascp(cfg: &AscpConfig, out_dir: &Path) -> std::io::Result<AscpSummary> {
    std::fs::create_dir_all(out_dir)?;
    let files = cfg.files.max(1);
    let mut g = AscpGenerator::new(cfg);
    let mut summary = AscpSummary {
        records: 0,
        files: Vec::new(),
        bytes: 0,
    };
    let mut buf = String::with_capacity(1 << 20);
    for f in 0..files {
        let end = ((f as u128 + 1) * cfg.records as u128 / files as u128) as u64;
        let path = out_dir.join(format!("ascp-{f:05}.log"));
        let mut w = std::io::BufWriter::with_capacity(1 << 20, File::create(&path)?);
        while g.lines() < end {
            g.next_line(&mut buf);
            if buf.len() >= 1 << 20 {
                w.write_all(buf.as_bytes())?;
                summary.bytes += buf.len() as u64;
                buf.clear();
            }
        }
        w.write_all(buf.as_bytes())?;
        summary.bytes += buf.len() as u64;
        buf.clear();
        w.flush()?;
        summary.files.push(path);
    }
    summary.records = g.lines();
    Ok(summary)
}

/// The `CREATE STREAM` for generated logs in `source_dir`.
pub fn ascp_stream_sql(source_dir: &str, start_ms: i64) -> String {
    let year = civil_from_days(start_ms.div_euclid(86_400_000)).0;
    format!(
        "CREATE STREAM ascp\n  WITH (source = 'dir:{source_dir}', files = '*.log', format = 'ascp', year = '{year}',\n        event_time = 'timestamp', watermark = '5s');\n"
    )
}

/// The per-session report (also computed by `bench/ascp_baseline.py`).
pub const SESSION_REPORT: &str = "CREATE QUERY sessions AS\n  SELECT host, pid, count(*) AS lines, avg(rate_c) AS avg_rate, max(rex_rtt_s) AS max_rtt, max(prog_t) AS bytes\n  FROM ascp WHERE kind = 'stats' GROUP BY host, pid;\n";

/// A `CREATE STREAM` over generated logs in `source_dir` and `count`
/// standing queries: the per-session report first, then a deterministic mix
/// of windowed throughput and retransmission summaries, alerts (filters on
/// round-trip time, rate and progress), error counts and role breakdowns.
pub fn generate_ascp_queries(count: usize, seed: u64, source_dir: &str, start_ms: i64) -> String {
    let mut out = ascp_stream_sql(source_dir, start_ms);
    let mut rng = Rng::new(seed ^ 0x0A5C_9E1E);
    let windows = [
        "TUMBLING 1m",
        "TUMBLING 5m",
        "SLIDING 10m EVERY 1m",
        "TUMBLING 1h",
    ];
    let keys = ["host", "host, pid", "role", "host, role"];
    let rtt_fields = ["rex_rtt_s", "rex_rtt_h", "ooo_rtt_s", "rate_rtt_s"];
    let rate_fields = ["rate_c", "rate_n", "rate_t"];
    for i in 0..count {
        if i == 0 {
            out.push_str(SESSION_REPORT);
            continue;
        }
        let name = format!("q{i:04}");
        let w = rng.pick(&windows);
        let k = rng.pick(&keys);
        let q = match rng.below(7) {
            0 => format!(
                "SELECT {k}, avg({r}) AS avg_rate, min({r}) AS min_rate, count(*) AS n FROM ascp WHERE kind = 'stats' GROUP BY {k} WINDOW {w}",
                r = rng.pick(&rate_fields)
            ),
            1 => format!(
                "SELECT {k}, sum(bl_r) AS rex_blocks, sum(bl_t) AS blocks, max(rex_rtt_h) AS worst_rtt FROM ascp WHERE role = '{}' GROUP BY {k} WINDOW {w}",
                rng.pick(&["Receiver", "Sender"])
            ),
            2 => format!(
                "SELECT host, pid, {f}, rate_c FROM ascp WHERE kind = 'stats' AND {f} > {t}",
                f = rng.pick(&rtt_fields),
                t = 50 + rng.below(300)
            ),
            3 => format!(
                "SELECT host, count(*) AS errors FROM ascp WHERE kind = 'error' OR status = 'failed' GROUP BY host WINDOW {w}"
            ),
            4 => format!(
                "SELECT host, pid, rate_c, rate_t FROM ascp WHERE kind = 'stats' AND rate_c < {} AND prog_t > {}",
                rng.pick(&[5_000_000u64, 20_000_000, 50_000_000]),
                rng.below(1_000) * 1_000_000
            ),
            5 => format!(
                "SELECT {k}, count(*) AS sessions, sum(size) AS bytes FROM ascp WHERE kind = 'session_stop' GROUP BY {k} WINDOW {w}"
            ),
            _ => format!(
                "SELECT host, max(prog_t) AS bytes, max(bl_d) AS dropped, avg(disk_h) AS disk FROM ascp WHERE kind = 'stats' AND rate_t >= {} GROUP BY host WINDOW {w}",
                rng.pick(&TARGET_RATES)
            ),
        };
        out.push_str(&format!("CREATE QUERY {name} AS\n  {q};\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::decode::FieldSet;
    use crate::exec::decode::{ascp::AscpDecoder, YearContext, YearRule};
    use crate::value::Value;

    fn lines(cfg: &AscpConfig) -> Vec<String> {
        let mut g = AscpGenerator::new(cfg);
        let mut buf = String::new();
        for _ in 0..cfg.records {
            g.next_line(&mut buf);
        }
        buf.lines().map(str::to_string).collect()
    }

    #[test]
    fn deterministic_and_seed_dependent() {
        let cfg = AscpConfig {
            records: 500,
            ..AscpConfig::default()
        };
        assert_eq!(lines(&cfg), lines(&cfg));
        assert_ne!(
            lines(&cfg),
            lines(&AscpConfig {
                seed: 7,
                ..cfg.clone()
            })
        );
    }

    #[test]
    fn every_line_decodes_and_sessions_evolve() {
        let cfg = AscpConfig {
            records: 20_000,
            ..AscpConfig::default()
        };
        let fields = FieldSet::new(
            [
                "kind",
                "host",
                "pid",
                "prog_t",
                "prog_f",
                "timestamp",
                "rate_c",
                "rate_t",
                "bl_t",
                "bl_o",
                "bl_r",
            ]
            .map(String::from)
            .to_vec(),
        );
        let d = AscpDecoder::new(&fields);
        let years = YearContext::new(YearRule::Fixed(2024), 0);
        let mut kinds = std::collections::BTreeMap::new();
        let mut last_ts = i64::MIN;
        let mut progress: std::collections::HashMap<(String, i64), i64> = Default::default();
        let mut hosts = std::collections::HashSet::new();
        for line in lines(&cfg) {
            let mut out = vec![Value::Null; fields.len()];
            d.decode(&line, &years, &mut out)
                .unwrap_or_else(|e| panic!("{e}: {line}"));
            let kind = out[0].as_str().unwrap().to_string();
            *kinds.entry(kind.clone()).or_insert(0u64) += 1;
            let Value::Int(ts) = out[5] else { panic!() };
            assert!(ts >= last_ts, "time goes back: {line}");
            last_ts = ts;
            hosts.insert(out[1].as_str().unwrap().to_string());
            if kind == "stats" {
                let int = |i: usize| match out[i] {
                    Value::Int(v) => v,
                    ref other => panic!("{other:?} in {line}"),
                };
                let key = (out[1].as_str().unwrap().to_string(), int(2));
                let p = progress.entry(key).or_insert(0);
                assert!(int(3) >= *p, "progress goes back: {line}");
                assert!(int(3) <= int(4));
                *p = int(3);
                assert!(int(6) <= int(7), "rate above target: {line}");
                assert_eq!(int(8), int(9) + int(10));
            }
        }
        let total: u64 = kinds.values().sum();
        assert!(kinds["stats"] * 100 / total >= 90, "{kinds:?}");
        for k in [
            "session_start",
            "session_params",
            "transfer_start",
            "transfer_stop",
            "session_stop",
            "error",
        ] {
            assert!(kinds.get(k).copied().unwrap_or(0) > 0, "no {k}: {kinds:?}");
        }
        assert_eq!(hosts.len(), 8);
        assert!(progress.len() > 100, "{} sessions", progress.len());
    }

    #[test]
    fn queries_register() {
        let sql = generate_ascp_queries(100, 42, "/nonexistent", JAN_23_2024_MS);
        assert!(sql.contains("year = '2024'"));
        let mut e = crate::exec::Engine::new();
        if let Err(err) = e.execute(&sql) {
            panic!("{}", err.render(&sql));
        }
        assert_eq!(e.query_names().count(), 100);
        assert!(e.query("sessions").is_some());
    }
}
