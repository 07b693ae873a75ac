//! `noticebench gen`: members' ranges (nested, IPv4 and IPv6) and a CSV of scan results for
//! bench/notice.sh, deterministic for a seed. `noticebench lookup`: longest-prefix lookups per
//! second through the relay's router and through a linear scan of the same ranges.

use std::io::{BufWriter, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;
use clap::{Parser, Subcommand};
use engine::notice::route::{Route, Router, naive_route};
use ipnet::IpNet;
use relay_core::notice::SnapshotRange;

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Writes DIR/ranges.tsv (org, network) and DIR/results.csv.
    Gen {
        #[arg(long)]
        dir: PathBuf,
        #[arg(long, default_value_t = 20_000)]
        prefixes: usize,
        #[arg(long, default_value_t = 34)]
        orgs: usize,
        #[arg(long, default_value_t = 10_000_000)]
        findings: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Lookups per second, router against linear scan, over DIR/ranges.tsv.
    Lookup {
        #[arg(long)]
        dir: PathBuf,
        #[arg(long, default_value_t = 2_000_000)]
        lookups: usize,
        /// Lookups through the linear scan (it is slow)
        #[arg(long, default_value_t = 2_000)]
        naive_lookups: usize,
    },
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// The ranges: each org gets blocks of /16 to /22 (IPv4) and /32 to /48 (IPv6); one in ten is
/// a customer's /24 or /56 carved out of another org's block.
fn ranges(n: usize, orgs: usize, seed: u64) -> Vec<(usize, IpNet)> {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut out: Vec<(usize, IpNet)> = Vec::with_capacity(n);
    let mut seen = std::collections::HashSet::new();
    while out.len() < n {
        let org = (rng.next() % orgs as u64) as usize;
        let i = out.len();
        let net = if i % 10 == 9 && i > 0 {
            let (_, parent) = out[(rng.next() % i as u64) as usize];
            match parent {
                IpNet::V4(p) => {
                    let host = (rng.next() as u32) & !u32::from(p.netmask());
                    IpNet::new(
                        IpAddr::V4(Ipv4Addr::from(u32::from(p.network()) | host)),
                        24,
                    )
                }
                IpNet::V6(p) => {
                    let host = ((rng.next() as u128) << 64) & !u128::from(p.netmask());
                    IpNet::new(
                        IpAddr::V6(Ipv6Addr::from(u128::from(p.network()) | host)),
                        56,
                    )
                }
            }
        } else if i % 4 == 3 {
            let a = (0x2400u128 << 112) | ((rng.next() as u128 & 0xffff_ffff) << 80);
            IpNet::new(IpAddr::V6(Ipv6Addr::from(a)), 32 + (rng.next() % 17) as u8)
        } else {
            // Public-looking IPv4 space, 1.0.0.0 to 126.255.255.255.
            let a = 0x0100_0000 + (rng.next() as u32 % 0x7e00_0000);
            IpNet::new(IpAddr::V4(Ipv4Addr::from(a)), 16 + (rng.next() % 7) as u8)
        };
        let net = net.expect("valid prefix length").trunc();
        if seen.insert(net) {
            out.push((org, net));
        }
    }
    out
}

fn address_in(rng: &mut Rng, net: &IpNet) -> IpAddr {
    match net {
        IpNet::V4(n) => {
            let host = (rng.next() as u32) & !u32::from(n.netmask());
            IpAddr::V4(Ipv4Addr::from(u32::from(n.network()) | host))
        }
        IpNet::V6(n) => {
            let r = ((rng.next() as u128) << 64) | rng.next() as u128;
            IpAddr::V6(Ipv6Addr::from(
                u128::from(n.network()) | (r & !u128::from(n.netmask())),
            ))
        }
    }
}

fn read_ranges(dir: &std::path::Path) -> Result<Vec<(IpNet, i64)>> {
    let text = std::fs::read_to_string(dir.join("ranges.tsv"))?;
    let mut out = Vec::new();
    for line in text.lines() {
        let (org, net) = line
            .split_once('\t')
            .ok_or_else(|| anyhow::anyhow!("bad line {line}"))?;
        let id: i64 = org.trim_start_matches("Member").parse()?;
        out.push((net.parse()?, id));
    }
    Ok(out)
}

fn main() -> Result<()> {
    match Cli::parse().cmd {
        Cmd::Gen {
            dir,
            prefixes,
            orgs,
            findings,
            seed,
        } => {
            std::fs::create_dir_all(&dir)?;
            let nets = ranges(prefixes, orgs, seed);
            let mut r = BufWriter::new(std::fs::File::create(dir.join("ranges.tsv"))?);
            for (org, net) in &nets {
                writeln!(r, "Member{org:02}\t{net}")?;
            }
            r.flush()?;
            let mut rng = Rng(seed ^ 0xdead_beef);
            let mut w =
                BufWriter::with_capacity(1 << 20, std::fs::File::create(dir.join("results.csv"))?);
            writeln!(w, "ip,port,protocol,finding,observed_at,detail")?;
            let kinds = [
                "telnet-login-prompt",
                "telnet-logged-in",
                "open-resolver",
                "mirai-c2",
            ];
            for i in 0..findings {
                // Nine in ten inside a member's range; the rest anywhere (unmatched).
                let ip = if i % 10 == 0 {
                    IpAddr::V4(Ipv4Addr::from(rng.next() as u32))
                } else {
                    let (_, net) = nets[(rng.next() % nets.len() as u64) as usize];
                    address_in(&mut rng, &net)
                };
                let port = [23u16, 2323, 53, 80][i % 4];
                // A scan runs through the month: observation times rise through the file.
                let secs = (i as u64 * 28 * 86_400) / findings as u64;
                writeln!(
                    w,
                    "{ip},{port},tcp,{},2026-11-{:02}T{:02}:{:02}:{:02}Z,",
                    kinds[(rng.next() % 4) as usize],
                    1 + secs / 86_400,
                    secs / 3600 % 24,
                    secs / 60 % 60,
                    secs % 60
                )?;
            }
            w.flush()?;
        }
        Cmd::Lookup {
            dir,
            lookups,
            naive_lookups,
        } => {
            let nets = read_ranges(&dir)?;
            let snapshot: Vec<SnapshotRange> = nets
                .iter()
                .map(|(n, o)| SnapshotRange {
                    net: n.to_string(),
                    org: *o,
                })
                .collect();
            let router = Router::new(&snapshot);
            let mut rng = Rng(99);
            let addrs: Vec<IpAddr> = (0..lookups)
                .map(|i| {
                    if i % 10 == 0 {
                        IpAddr::V4(Ipv4Addr::from(rng.next() as u32))
                    } else {
                        let pick = (rng.next() % nets.len() as u64) as usize;
                        address_in(&mut rng, &nets[pick].0)
                    }
                })
                .collect();
            let t = Instant::now();
            let mut owned = 0usize;
            for a in &addrs {
                if matches!(router.route(*a), Route::Owner { .. }) {
                    owned += 1;
                }
            }
            let trie = lookups as f64 / t.elapsed().as_secs_f64();
            let t = Instant::now();
            let mut agree = 0;
            for a in addrs.iter().take(naive_lookups) {
                if naive_route(&nets, *a) == router.route(*a) {
                    agree += 1;
                }
            }
            let naive = naive_lookups as f64 / t.elapsed().as_secs_f64();
            writeln!(
                std::io::stdout(),
                "{{\"prefixes\": {}, \"trie_per_sec\": {trie:.0}, \"naive_per_sec\": {naive:.0}, \"owned\": {owned}, \"agree\": {agree}, \"checked\": {naive_lookups}}}",
                nets.len()
            )?;
        }
    }
    Ok(())
}
