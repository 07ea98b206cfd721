//! Running a module as a container runtime hands it over: the OCI
//! process's argv, environment and working directory, inside the
//! container's root filesystem with its mounts. This is the library half
//! of `containerd-shim-kiln-v1` (runwasi's library does the containerd
//! half: the task API, the rootfs, namespaces and cgroups); it runs in the
//! container's init process, after the root has been pivoted.
//!
//! Guest-path rules, the same as `run`'s:
//! * the container's `/` is the guest's `/` (the image's layers put the
//!   stdlib at its guest path, as `run` maps it);
//! * every data mount (a bind mount, a volume) is also a preopen of its
//!   own at its mount point, so the guest sees it as a mapped directory;
//! * the guest starts in `/` whatever the OCI process's cwd (WASI has no
//!   working directory to hand over; docs/containers.md).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::runtime::{EngineOptions, RunSpec, Runtime, Stdio};

/// One line of `/proc/self/mountinfo`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub point: PathBuf,
    pub fstype: String,
    pub read_only: bool,
}

/// File systems a container gets from its runtime, not from its user.
const SYSTEM_FS: &[&str] = &[
    "proc",
    "sysfs",
    "devpts",
    "mqueue",
    "cgroup",
    "cgroup2",
    "securityfs",
    "debugfs",
    "tracefs",
    "bpf",
    "fusectl",
];

/// Parse `/proc/self/mountinfo` (proc(5)): the mount point is field 5
/// (octal escapes for space, tab, newline, backslash), the per-mount
/// options field 6, and the file-system type follows the ` - ` separator.
pub fn parse_mountinfo(text: &str) -> Vec<Mount> {
    let mut out = Vec::new();
    for line in text.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let fields: Vec<&str> = left.split(' ').collect();
        let (Some(point), Some(opts)) = (fields.get(4), fields.get(5)) else {
            continue;
        };
        let Some(fstype) = right.split(' ').next() else {
            continue;
        };
        out.push(Mount {
            point: PathBuf::from(unescape_octal(point)),
            fstype: fstype.to_string(),
            read_only: opts.split(',').any(|o| o == "ro"),
        });
    }
    out
}

fn unescape_octal(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && b.len() >= i + 4 && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c)) {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The mounts a guest should see as directories of their own: not `/`,
/// nothing under `/proc`, `/sys` or `/dev`, no system file system, and
/// only directories (a container's `/etc/hosts` is a file mount). Later
/// mounts on the same point hide earlier ones, so each point once.
pub fn data_mounts(all: &[Mount], is_dir: impl Fn(&Path) -> bool) -> Vec<Mount> {
    let mut out: Vec<Mount> = Vec::new();
    for m in all {
        let p = &m.point;
        if p == Path::new("/")
            || ["/proc", "/sys", "/dev"].iter().any(|s| p.starts_with(s))
            || SYSTEM_FS.contains(&m.fstype.as_str())
            || !is_dir(p)
        {
            continue;
        }
        out.retain(|o| o.point != *p);
        out.push(m.clone());
    }
    out
}

/// What the container runtime hands over: the OCI process (argv, env as
/// `K=V`, cwd) and the mounts the process can see.
#[derive(Debug, Clone, Default)]
pub struct Process {
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: PathBuf,
    pub mounts: Vec<Mount>,
}

impl Process {
    /// The calling process as it stands inside its container.
    pub fn current(args: Vec<String>, env: Vec<String>) -> Result<Process> {
        let cwd = std::env::current_dir().context("the container's working directory")?;
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let mounts = data_mounts(&parse_mountinfo(&mountinfo), |p| p.is_dir());
        Ok(Process { args, env, cwd, mounts })
    }

    /// The run: argv as given (argv[0] included), the environment, `/`
    /// and each data mount preopened, stdio inherited (the container's
    /// streams). The working directory is not handed over: a WASI guest
    /// starts in `/` (wasi-libc's own cwd), and a `.` preopen beside `/`
    /// would be shadowed by it, so relative paths resolve from `/`.
    pub fn run_spec(&self) -> RunSpec {
        let env = self
            .env
            .iter()
            .map(|kv| match kv.split_once('=') {
                Some((k, v)) => (k.to_string(), v.to_string()),
                None => (kv.clone(), String::new()),
            })
            .collect();
        let mut dirs = vec![(PathBuf::from("/"), "/".to_string())];
        for m in &self.mounts {
            dirs.push((m.point.clone(), m.point.display().to_string()));
        }
        let spec = RunSpec {
            argv: self.args.clone(),
            env,
            dirs,
            stdin: Stdio::Inherit,
            stdout: Stdio::Inherit,
            stderr: Stdio::Inherit,
            ..Default::default()
        };
        let mut spec = spec;
        let mut seen = std::collections::HashSet::new();
        spec.dirs.retain(|d| seen.insert(d.clone()));
        spec
    }
}

/// The OCI default `PATH`, for a process whose environment has none.
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

impl Process {
    /// The entrypoint module named by argv[0], as a shell finds a command:
    /// a name with a `/` relative to the working directory, a bare name on
    /// the process's own `PATH` (the container's, not the shim's).
    pub fn entrypoint(&self) -> Result<PathBuf> {
        let arg0 = self.args.first().context("the container's process has no argv")?;
        if arg0.contains('/') {
            let p = self.cwd.join(arg0);
            return if p.is_file() {
                Ok(p)
            } else {
                anyhow::bail!("the entrypoint {arg0} is not a file in the container")
            };
        }
        let path = self.env.iter().find_map(|kv| kv.strip_prefix("PATH=")).unwrap_or(DEFAULT_PATH);
        std::env::split_paths(path)
            .map(|d| self.cwd.join(d).join(arg0))
            .find(|p| p.is_file())
            .with_context(|| format!("{arg0} is not on the container's PATH ({path})"))
    }
}

/// Is this a wasm module (by its magic)?
pub fn is_wasm_module(path: &Path) -> Result<bool> {
    use std::io::Read;
    let mut magic = [0u8; 4];
    let mut f = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    Ok(f.read_exact(&mut magic).is_ok() && &magic == b"\0asm")
}

/// Run `module` (its bytes) as `process`, compiling through the module
/// cache at `module_cache` (kiln's `<cache>/modules`, shared with `run`).
/// Returns the guest's exit status; a trap is reported on stderr and is
/// status 134, as under `run`.
pub fn run(module: &[u8], what: &str, process: &Process, module_cache: &Path) -> Result<i32> {
    let opts = EngineOptions::for_module(module).with_context(|| format!("reading {what}"))?;
    let rt = Runtime::new(module_cache, &opts)?;
    let m = rt.load_bytes(module, what)?;
    let outcome = rt.run(&m, &process.run_spec())?;
    if let Some(trap) = &outcome.trap {
        eprintln!("kiln: {what} trapped: {trap}");
    }
    Ok(outcome.status)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTINFO: &str = "\
611 520 0:52 / / rw,relatime - overlay overlay rw,lowerdir=/a,upperdir=/b
612 611 0:55 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw
613 611 0:56 / /dev rw,nosuid - tmpfs tmpfs rw,size=65536k,mode=755
614 611 8:1 /srv/data /data rw,relatime - ext4 /dev/vda rw
615 611 8:1 /srv/ro /srv/read\\040only ro,relatime - ext4 /dev/vda rw
616 611 8:1 /etc/hosts /etc/hosts rw - ext4 /dev/vda rw
617 611 0:60 / /sys/fs/cgroup ro - cgroup2 cgroup rw
618 611 8:1 /srv/data2 /data rw - ext4 /dev/vda rw
";

    #[test]
    fn entrypoint_is_found_like_a_command() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("bin")).unwrap();
        std::fs::write(root.path().join("bin/php.wasm"), b"\0asm\x01\0\0\0").unwrap();
        std::os::unix::fs::symlink("php.wasm", root.path().join("bin/php")).unwrap();
        let bin = root.path().join("bin").display().to_string();
        let p = |arg0: &str, env: &[&str]| Process {
            args: vec![arg0.into()],
            env: env.iter().map(|s| s.to_string()).collect(),
            cwd: root.path().into(),
            mounts: vec![],
        };
        let found = p("php", &[&format!("PATH=/nowhere:{bin}")]).entrypoint().unwrap();
        assert_eq!(found, root.path().join("bin/php"));
        assert!(is_wasm_module(&found).unwrap());
        assert_eq!(p("bin/php.wasm", &[]).entrypoint().unwrap(), root.path().join("bin/php.wasm"));
        let e = p("ruby", &[&format!("PATH={bin}")]).entrypoint().unwrap_err().to_string();
        assert!(e.contains("ruby is not on the container's PATH"), "{e}");
        assert!(p("bin/nope.wasm", &[]).entrypoint().is_err());
    }

    #[test]
    fn mountinfo_fields_and_escapes() {
        let all = parse_mountinfo(MOUNTINFO);
        assert_eq!(all.len(), 8);
        assert_eq!(all[3].point, PathBuf::from("/data"));
        assert_eq!(all[4].point, PathBuf::from("/srv/read only"));
        assert!(all[4].read_only && !all[3].read_only);
        assert_eq!(all[6].fstype, "cgroup2");
    }

    #[test]
    fn only_data_directories_are_preopened_once_each() {
        let all = parse_mountinfo(MOUNTINFO);
        let data = data_mounts(&all, |p| p != Path::new("/etc/hosts"));
        let points: Vec<_> = data.iter().map(|m| m.point.display().to_string()).collect();
        assert_eq!(points, ["/srv/read only", "/data"]);
    }

    #[test]
    fn run_spec_maps_argv_env_root_and_mounts() {
        let p = Process {
            args: vec!["php".into(), "-r".into(), "echo 1;".into()],
            env: vec!["PATH=/bin".into(), "EMPTY=".into(), "A=b=c".into()],
            cwd: PathBuf::from("/data"),
            mounts: vec![Mount {
                point: "/data".into(),
                fstype: "ext4".into(),
                read_only: false,
            }],
        };
        let s = p.run_spec();
        assert_eq!(s.argv, ["php", "-r", "echo 1;"]);
        assert_eq!(
            s.env,
            [
                ("PATH".into(), "/bin".into()),
                ("EMPTY".into(), String::new()),
                ("A".into(), "b=c".into())
            ]
        );
        let dirs: Vec<(String, String)> = s.dirs.iter().map(|(h, g)| (h.display().to_string(), g.clone())).collect();
        assert_eq!(dirs, [("/".into(), "/".into()), ("/data".into(), "/data".into()),]);
    }
}
