//! The inputs mote reads: config.json, state.json, process.json, resource files.
//!
//! Parse once, borrow, bound: the file is read into one buffer, [`json::validate`] checks it,
//! then the typed model borrows its strings from that buffer. See `json.rs` for how.

use crate::prelude::*;

pub mod json;
pub mod limits;
pub mod namespaces;
pub mod out;
pub mod types;
pub mod units;
pub mod validate;
#[cfg(feature = "supervise")]
pub mod value;
#[cfg(feature = "supervise")]
pub mod workload;

#[cfg(test)]
mod corpus_tests;
#[cfg(test)]
mod hostile_tests;

use json::{JsonError, Map, PoolList, Pools, ReadContext, Str};
pub use types::*;

/// A parsed config.json: the model and the pools its lists live in.
#[derive(Default)]
pub struct Config<'a> {
    pub spec: Spec<'a>,
    pub pools: Pools<'a>,
}

impl<'a> Config<'a> {
    /// The strings of a pooled string list.
    pub fn strs(&self, l: PoolList<Str<'a>>) -> &[Str<'a>] {
        self.pools.strs.get(l.range()).unwrap_or(&[])
    }
    /// The strings of an optional pooled string list (absent: empty).
    pub fn opt_strs(&self, l: Option<PoolList<Str<'a>>>) -> &[Str<'a>] {
        l.map_or(&[], |l| self.strs(l))
    }
    /// The entries of a map.
    pub fn map(&self, m: Map) -> &[(Str<'a>, Str<'a>)] {
        self.pools.kvs.get(m.range()).unwrap_or(&[])
    }
    /// The argument conditions of a seccomp rule.
    pub fn args(&self, l: PoolList<SeccompArg<'a>>) -> &[SeccompArg<'a>] {
        self.items(l)
    }
    /// linux.namespaces (empty without `linux`).
    pub fn namespaces(&self) -> &[Namespace<'a>] {
        self.spec.linux.as_ref().map_or(&[], |l| self.items(l.namespaces))
    }
    /// Does linux.namespaces list `kind` (new or joined)?
    pub fn has_ns(&self, kind: &str) -> bool {
        self.namespaces().iter().any(|n| n.kind.0 == kind)
    }
    /// The elements of any pooled list.
    pub fn items<T: json::Pooled<'a>>(&self, l: PoolList<T>) -> &[T] {
        T::pool(&self.pools).get(l.range()).unwrap_or(&[])
    }
}

/// Parse any JSON document type with pools into a boxed value (allocated once).
pub fn parse_doc<'a, T: json::Json<'a>>(
    input: &'a [u8],
    arena: &'a mut [u8],
    pools: &mut Pools<'a>,
) -> Result<T, JsonError> {
    let cx = ReadContext::new(arena, pools);
    json::read_document::<T>(input, &cx)
}

/// Parse config.json text. `arena` receives unescaped strings: give it `input.len()` bytes.
/// The result is boxed: the model is tens of kilobytes and must not sit on a small stack.
pub fn parse_config<'a>(input: &'a [u8], arena: &'a mut [u8]) -> Result<Box<Config<'a>>, JsonError> {
    let mut out = Box::new(Config {
        spec: Spec::default(),
        pools: Pools::default(),
    });
    out.spec = parse_doc::<Spec<'a>>(input, arena, &mut out.pools)?;
    Ok(out)
}

/// Read a whole file into one buffer, refusing files over [`limits::MAX_INPUT_BYTES`].
pub fn read_input(path: &str) -> Result<Vec<u8>, crate::sys::Errno> {
    use rustix::fd::AsRawFd;
    let f = crate::sys::fs::open(path, libc::O_RDONLY | libc::O_CLOEXEC, 0)?;
    // One byte past the limit, to tell "at the limit" from "over it".
    crate::sys::fs::read_fd_to_end(f.as_raw_fd(), limits::MAX_INPUT_BYTES + 1)
}

/// A parsed config.json (or a process.json held as a config with only `process`) that owns
/// its buffers: dropping it frees everything it loaded.
pub type ConfigDoc = crate::sys::doc::Owned<ConfigFamily>;

/// The [`Family`](crate::sys::doc::Family) of [`ConfigDoc`].
pub struct ConfigFamily;

// SAFETY: Box<Config<'a>> is covariant in 'a; `_config_is_covariant` compiles only if so.
unsafe impl crate::sys::doc::Family for ConfigFamily {
    type Of<'a> = Box<Config<'a>>;
}

#[allow(dead_code)]
fn _config_is_covariant<'a, 'b: 'a>(c: Box<Config<'b>>) -> Box<Config<'a>> {
    c
}

impl ConfigDoc {
    /// The parsed config, borrowed from this document.
    pub fn config(&self) -> &Config<'_> {
        self.get()
    }
}

/// Read and parse a config.json into a document that owns its buffers.
pub fn load_config(path: &str) -> Result<ConfigDoc, LoadError> {
    let buf = read_input(path).map_err(LoadError::Io)?;
    let n = buf.len();
    ConfigDoc::parse(buf, n, |input, arena| parse_config(input, arena)).map_err(LoadError::Json)
}

/// Parse a process.json (`exec --process`) into a config holding only that process.
pub fn parse_process(buf: Vec<u8>) -> Result<ConfigDoc, JsonError> {
    let n = buf.len();
    ConfigDoc::parse(buf, n, |input, arena| {
        let mut cfg = Box::new(Config {
            spec: Spec::default(),
            pools: Pools::default(),
        });
        cfg.spec.process = Some(parse_doc::<Process<'_>>(input, arena, &mut cfg.pools)?);
        Ok(cfg)
    })
}

#[derive(Debug)]
pub enum LoadError {
    /// The errno of opening or reading the file.
    Io(crate::sys::Errno),
    Json(JsonError),
}
