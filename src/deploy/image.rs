//! Sources of a revision, and reading OCI images from them.
//!
//! A source is a bundle directory, a tarball of one (plain, gzip or zstd), an OCI image layout
//! directory, an oci-archive (a tar of a layout: `podman save --format oci-archive`, skopeo) or
//! a docker-archive (`podman save --format docker-archive`). Archives are plain tars on disk:
//! mote reads their headers once to know where each member lies, then reads members in place.
//!
//! An OCI image is followed from `index.json`: nested indexes are entered by platform (the
//! machine's: linux/amd64, linux/arm64, linux/arm with variant v7 or v6, from the target mote
//! was built for), to one manifest, whose config and layers are then read. Every blob's size
//! and sha256 are checked against its descriptor before it is used; each layer's uncompressed
//! sha256 against the config's `rootfs.diff_ids` as it is unpacked.

use crate::prelude::*;

use super::digest::Digest;
use super::stream::{Read, Region};
use super::tar::{Kind, Tar};
use crate::error::{Error, Result, Step};
use crate::json_object;
use crate::spec::json::{List, Pools, Str};
use crate::spec::limits::{MAX_ARCHIVE_ENTRIES, MAX_INDEX_DEPTH, MAX_INDEX_MANIFESTS, MAX_INPUT_BYTES, MAX_LAYERS};
use crate::sys::fs;
use rustix::fd::{AsRawFd, OwnedFd, RawFd};

json_object! {
    pub struct Platform<'a> {
        "architecture" => architecture: Option<Str<'a>>,
        "os" => os: Option<Str<'a>>,
        "variant" => variant: Option<Str<'a>>,
    }
}

json_object! {
    pub struct Descriptor<'a> {
        "mediaType" => media_type: Option<Str<'a>>,
        "digest" => digest: Option<Str<'a>>,
        "size" => size: Option<u64>,
        "platform" => platform: Option<Platform<'a>>,
    }
}

json_object! {
    /// An index (index.json, or an image index blob) or a manifest: both kinds of document.
    pub struct IndexOrManifest<'a> {
        "mediaType" => media_type: Option<Str<'a>>,
        "manifests" => manifests: List<Descriptor<'a>, MAX_INDEX_MANIFESTS>,
        "config" => config: Option<Descriptor<'a>>,
        "layers" => layers: List<Descriptor<'a>, MAX_LAYERS>,
    }
}

json_object! {
    /// A docker-archive's manifest.json (a JSON array: read wrapped in an object).
    pub struct DockerManifest<'a> {
        "images" => images: List<DockerImage<'a>, 8>,
    }
}

json_object! {
    /// One image of a docker-archive's manifest.json.
    pub struct DockerImage<'a> {
        "Config" => config: Option<Str<'a>>,
        "Layers" => layers: List<Str<'a>, MAX_LAYERS>,
    }
}

const MT_OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const MT_DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
const MT_OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const MT_DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Layer media types mote unpacks (the compression is also recognised from the data).
const LAYER_TYPES: &[&str] = &[
    "application/vnd.oci.image.layer.v1.tar",
    "application/vnd.oci.image.layer.v1.tar+gzip",
    "application/vnd.oci.image.layer.v1.tar+zstd",
    "application/vnd.oci.image.layer.nondistributable.v1.tar",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
    "application/vnd.docker.image.rootfs.diff.tar",
    "application/vnd.docker.image.rootfs.diff.tar.gzip",
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
];

/// The platform images are chosen for: the one mote was built for.
pub fn machine() -> (&'static str, Option<&'static str>) {
    if cfg!(target_arch = "x86_64") {
        ("amd64", None)
    } else if cfg!(target_arch = "aarch64") {
        ("arm64", None)
    } else if cfg!(target_arch = "arm") {
        ("arm", Some("v7"))
    } else if cfg!(target_arch = "x86") {
        ("386", None)
    } else {
        ("unknown", None)
    }
}

/// Does an image platform run here? (`arm` v6 and v5 binaries run on a v7 machine.)
fn runs_here(arch: &str, variant: Option<&str>, want: (&str, Option<&str>)) -> bool {
    if arch != want.0 {
        return false;
    }
    match (want.1, variant) {
        (_, None) => true,
        (Some("v7"), Some(v)) => matches!(v, "v7" | "v6" | "v5"),
        (None, Some(v)) => arch == "arm64" && v == "v8",
        (Some(w), Some(v)) => w == v,
    }
}

/// Where the blobs of an image are.
pub enum Blobs {
    /// An image layout directory.
    Dir(OwnedFd),
    /// A tar archive: each member's name, data offset and size.
    Archive {
        fd: OwnedFd,
        members: Vec<(String, u64, u64)>,
    },
}

impl Blobs {
    /// Index a plain tar archive (its headers only).
    pub fn index_archive(fd: OwnedFd, what: &'static str) -> Result<Blobs> {
        let mut members = Vec::new();
        {
            let mut region = Region::new(fd.as_raw_fd(), 0, u64::MAX);
            let mut t = Tar::new(&mut region, what);
            while let Some(e) = t.next()? {
                if e.kind != Some(Kind::File) {
                    continue;
                }
                if members.len() >= MAX_ARCHIVE_ENTRIES {
                    return Err(Error::input("read an archive").ctx(format_args!(
                        "{what}: more than MAX_ARCHIVE_ENTRIES ({MAX_ARCHIVE_ENTRIES}) files"
                    )));
                }
                // Here the reader stands at the member's data.
                let offset = t.position();
                let name = super::tree::clean_path(&e.path).unwrap_or_default();
                members.push((name, offset, e.size));
            }
        }
        Ok(Blobs::Archive { fd, members })
    }

    /// A member or file: a reader over it and its size.
    pub fn open(&self, name: &str) -> Result<(Region, u64)> {
        match self {
            Blobs::Dir(d) => {
                let clean = super::tree::clean_path(name)
                    .map_err(|why| Error::input("open a blob").ctx(format_args!("{name:?}: {why}")))?;
                let f = fs::openat(
                    d.as_raw_fd(),
                    &clean,
                    libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_CLOEXEC,
                    0,
                )
                .step_ctx("open a blob", format_args!("{name}"))?;
                let size = fs::fstat(f.as_raw_fd()).step("stat a blob")?.st_size as u64;
                Ok((Region::owned(f, 0, size), size))
            }
            Blobs::Archive { fd, members } => {
                let clean = super::tree::clean_path(name).unwrap_or_default();
                let (_, off, size) = members
                    .iter()
                    .rev()
                    .find(|(n, _, _)| *n == clean)
                    .ok_or_else(|| Error::input("open a blob").ctx(format_args!("{name}: not in the archive")))?;
                Ok((Region::new(fd.as_raw_fd(), *off, *size), *size))
            }
        }
    }

    pub fn has(&self, name: &str) -> bool {
        match self {
            Blobs::Dir(d) => fs::exists_at(d.as_raw_fd(), name),
            Blobs::Archive { members, .. } => members.iter().any(|(n, _, _)| n == name),
        }
    }

    /// A small member read whole (a JSON document), at most MAX_INPUT_BYTES.
    pub fn read_small(&self, name: &str) -> Result<Vec<u8>> {
        let (mut r, size) = self.open(name)?;
        if size > MAX_INPUT_BYTES as u64 {
            return Err(Error::input("read a document").ctx(format_args!(
                "{name}: {size} bytes, over MAX_INPUT_BYTES ({MAX_INPUT_BYTES})"
            )));
        }
        let mut v = vec![0u8; size as usize];
        r.read_exact(&mut v, "a document")?;
        Ok(v)
    }

    /// The blob of a descriptor, read whole, its size and digest checked.
    pub fn read_verified(&self, digest: &Digest, size: Option<u64>) -> Result<Vec<u8>> {
        let name = blob_path(digest);
        let v = self.read_small(&name)?;
        check_blob(&name, &v, digest, size)?;
        Ok(v)
    }
}

/// Where a blob of this digest lies in a layout.
pub fn blob_path(d: &Digest) -> String {
    format!("blobs/sha256/{}", d.hex())
}

fn check_blob(name: &str, v: &[u8], digest: &Digest, size: Option<u64>) -> Result<()> {
    if let Some(s) = size {
        if s != v.len() as u64 {
            return Err(Error::input("verify a blob")
                .ctx(format_args!("{name}: {} bytes where its descriptor says {s}", v.len())));
        }
    }
    let got = Digest::of(v);
    if got != *digest {
        return Err(Error::input("verify a blob").ctx(format_args!("{name}: digest mismatch: it is {got}")));
    }
    Ok(())
}

/// A layer to unpack.
pub struct Layer {
    /// Where it is (a blob path, or a docker-archive member).
    pub name: String,
    /// Its (compressed) digest and size when a manifest gives them.
    pub digest: Option<Digest>,
    pub size: Option<u64>,
    /// The sha256 of its uncompressed tar (the config's rootfs.diff_ids).
    pub diff_id: Digest,
}

/// An image, read and checked down to its layers' descriptors.
pub struct Image {
    /// What identifies it (and what a signature signs): the manifest's digest, or for a
    /// docker-archive (which has no manifest blob) the config's.
    pub digest: Digest,
    /// The config document.
    pub config: Vec<u8>,
    pub layers: Vec<Layer>,
}

fn parse<'a, T: crate::spec::json::Json<'a>>(
    what: &str,
    input: &'a [u8],
    arena: &'a mut [u8],
    pools: &mut Pools<'a>,
) -> Result<T> {
    crate::spec::parse_doc::<T>(input, arena, pools)
        .map_err(|e| Error::input("read an image").ctx(format_args!("{what}: {e}")))
}

json_object! {
    /// An image config: what mote checks against the manifest, and what config.json is made
    /// from (config.rs).
    pub struct ImageConfig<'a> {
        "architecture" => architecture: Option<Str<'a>>,
        "os" => os: Option<Str<'a>>,
        "variant" => variant: Option<Str<'a>>,
        "rootfs" => rootfs: Option<RootfsJson<'a>>,
        "config" => config: Option<super::config::ContainerConfig<'a>>,
    }
}

json_object! {
    pub struct RootfsJson<'a> {
        "diff_ids" => diff_ids: List<Str<'a>, MAX_LAYERS>,
    }
}

/// Read an OCI image (layout directory or oci-archive).
pub fn read_oci(blobs: &Blobs, platform: (&str, Option<&str>)) -> Result<Image> {
    let mut doc = blobs.read_small("index.json")?;
    let mut what = String::from("index.json");
    let mut chosen: Option<(Digest, Option<u64>)> = None;
    for _depth in 0..=MAX_INDEX_DEPTH {
        let mut arena = vec![0u8; doc.len()];
        let mut pools = Pools::default();
        let idx: IndexOrManifest<'_> = parse(&what, &doc, &mut arena, &mut pools)?;
        if idx.config.is_some() {
            break; // a manifest
        }
        // Candidates: manifests or indexes, for this platform (or saying none).
        let mut pick: Option<&Descriptor<'_>> = None;
        let mut seen = String::new();
        for d in idx.manifests.iter() {
            let mt = d.media_type.map_or("", |m| m.0);
            if !matches!(mt, MT_OCI_INDEX | MT_DOCKER_LIST | MT_OCI_MANIFEST | MT_DOCKER_MANIFEST) {
                continue; // attestations, signatures, other artifacts
            }
            match &d.platform {
                Some(p) => {
                    let (os, arch, var) = (
                        p.os.map_or("", |s| s.0),
                        p.architecture.map_or("", |s| s.0),
                        p.variant.map(|s| s.0),
                    );
                    if !seen.is_empty() {
                        seen.push_str(", ");
                    }
                    seen.push_str(os);
                    seen.push('/');
                    seen.push_str(arch);
                    if let Some(v) = var {
                        seen.push('/');
                        seen.push_str(v);
                    }
                    if os == "linux" && runs_here(arch, var, platform) {
                        // An exact variant beats a compatible one.
                        let exact = var == platform.1 || var.is_none();
                        if pick.is_none() || exact {
                            pick = Some(d);
                        }
                    }
                }
                None => {
                    if pick.is_none() {
                        pick = Some(d);
                    }
                }
            }
        }
        let Some(d) = pick else {
            return Err(Error::input("choose an image").ctx(format_args!(
                "{what}: no image for linux/{}{}{} (it has: {})",
                platform.0,
                if platform.1.is_some() { "/" } else { "" },
                platform.1.unwrap_or(""),
                if seen.is_empty() { "nothing usable" } else { &seen }
            )));
        };
        let digest = d.digest.and_then(|s| Digest::parse(&s)).ok_or_else(|| {
            Error::input("read an image").ctx(format_args!("{what}: a descriptor without a sha256 digest"))
        })?;
        let size = d.size;
        drop(idx);
        doc = blobs.read_verified(&digest, size)?;
        what = blob_path(&digest);
        chosen = Some((digest, size));
    }
    let Some((manifest_digest, _)) = chosen else {
        return Err(Error::input("read an image").ctx(format_args!("index.json lists no manifest")));
    };
    let mut arena = vec![0u8; doc.len()];
    let mut pools = Pools::default();
    let m: IndexOrManifest<'_> = parse(&what, &doc, &mut arena, &mut pools)?;
    let cd = m.config.as_ref().ok_or_else(|| {
        Error::input("read an image").ctx(format_args!("{what}: not a manifest (MAX_INDEX_DEPTH nested indexes)"))
    })?;
    let config_digest = cd
        .digest
        .and_then(|s| Digest::parse(&s))
        .ok_or_else(|| Error::input("read an image").ctx(format_args!("{what}: config: no sha256 digest")))?;
    let config = blobs.read_verified(&config_digest, cd.size)?;
    let mut descs = Vec::new();
    for (i, l) in m.layers.iter().enumerate() {
        let mt = l.media_type.map_or("", |m| m.0);
        if !LAYER_TYPES.contains(&mt) {
            return Err(Error::input("read an image").ctx(format_args!(
                "{what}: layers[{i}]: media type {mt:?} is not a layer mote can unpack (tar, tar+gzip, tar+zstd)"
            )));
        }
        let d = l
            .digest
            .and_then(|s| Digest::parse(&s))
            .ok_or_else(|| Error::input("read an image").ctx(format_args!("{what}: layers[{i}]: no sha256 digest")))?;
        descs.push((d, l.size));
    }
    drop(m);
    let layers = with_diff_ids(
        &config,
        &blob_path(&config_digest),
        platform,
        descs.len(),
        |i, diff_id| Layer {
            name: blob_path(&descs[i].0),
            digest: Some(descs[i].0),
            size: descs[i].1,
            diff_id,
        },
    )?;
    Ok(Image {
        digest: manifest_digest,
        config,
        layers,
    })
}

/// Read a docker-archive: manifest.json's first image.
pub fn read_docker(blobs: &Blobs, platform: (&str, Option<&str>)) -> Result<Image> {
    let raw = blobs.read_small("manifest.json")?;
    let mut doc = Vec::with_capacity(raw.len() + 12);
    doc.extend_from_slice(b"{\"images\":");
    doc.extend_from_slice(&raw);
    doc.push(b'}');
    let mut arena = vec![0u8; doc.len()];
    let mut pools = Pools::default();
    let list: DockerManifest<'_> = parse("manifest.json", &doc, &mut arena, &mut pools)?;
    let img = list
        .images
        .first()
        .ok_or_else(|| Error::input("read an image").ctx(format_args!("manifest.json lists no image")))?;
    let cname = img
        .config
        .ok_or_else(|| Error::input("read an image").ctx(format_args!("manifest.json: no Config")))?;
    let config = blobs.read_small(&cname)?;
    let digest = Digest::of(&config);
    // The config's name carries its digest (`<hex>.json` or `blobs/sha256/<hex>`): check it.
    let stem = cname.0.rsplit('/').next().unwrap_or("").trim_end_matches(".json");
    if let Some(named) = Digest::from_hex(stem) {
        if named != digest {
            return Err(Error::input("verify a blob").ctx(format_args!("{}: digest mismatch: it is {digest}", cname.0)));
        }
    }
    let names: Vec<String> = img.layers.iter().map(|s| String::from(s.0)).collect();
    let layers = with_diff_ids(&config, &cname.0, platform, names.len(), |i, diff_id| Layer {
        name: names[i].clone(),
        digest: None,
        size: None,
        diff_id,
    })?;
    Ok(Image { digest, config, layers })
}

/// Check the config (platform, diff_ids) and make the layer list.
fn with_diff_ids(
    config: &[u8],
    what: &str,
    platform: (&str, Option<&str>),
    n: usize,
    mut make: impl FnMut(usize, Digest) -> Layer,
) -> Result<Vec<Layer>> {
    let mut arena = vec![0u8; config.len()];
    let mut pools = Pools::default();
    let c: ImageConfig<'_> = parse(what, config, &mut arena, &mut pools)?;
    let arch = c.architecture.map_or("", |s| s.0);
    let os = c.os.map_or("linux", |s| s.0);
    if os != "linux" || (!arch.is_empty() && !runs_here(arch, c.variant.map(|v| v.0), platform)) {
        return Err(Error::input("choose an image").ctx(format_args!(
            "the image is for {os}/{arch}{}{}; this machine runs linux/{}{}{}",
            if c.variant.is_some() { "/" } else { "" },
            c.variant.map_or("", |v| v.0),
            platform.0,
            if platform.1.is_some() { "/" } else { "" },
            platform.1.unwrap_or("")
        )));
    }
    let ids = c.rootfs.as_ref().map(|r| &r.diff_ids[..]).unwrap_or(&[]);
    if ids.len() != n {
        return Err(Error::input("read an image").ctx(format_args!(
            "{what}: rootfs.diff_ids lists {} layers where the manifest has {n}",
            ids.len()
        )));
    }
    let mut out = Vec::with_capacity(n);
    for (i, id) in ids.iter().enumerate() {
        let d = Digest::parse(id).ok_or_else(|| {
            Error::input("read an image").ctx(format_args!("{what}: rootfs.diff_ids[{i}]: not a sha256 digest"))
        })?;
        out.push(make(i, d));
    }
    Ok(out)
}

/// What a source path is.
pub enum Source {
    /// A bundle directory (config.json and its rootfs).
    BundleDir(OwnedFd),
    /// A bundle tarball (maybe compressed); `prefix`: the directory in it holding config.json.
    BundleTar { fd: OwnedFd, prefix: String },
    /// An OCI image layout (directory or oci-archive).
    Oci(Blobs),
    /// A docker-archive.
    Docker(Blobs),
}

impl Source {
    pub fn kind(&self) -> &'static str {
        match self {
            Source::BundleDir(_) => "bundle directory",
            Source::BundleTar { .. } => "bundle tarball",
            Source::Oci(Blobs::Dir(_)) => "OCI image layout",
            Source::Oci(_) => "oci-archive",
            Source::Docker(_) => "docker-archive",
        }
    }
}

/// Look at `path` and say what it is.
pub fn open_source(path: &str) -> Result<Source> {
    let bad = |why: core::fmt::Arguments<'_>| Error::input("read the source").ctx(format_args!("{path}: {why}"));
    let fd = fs::open(path, libc::O_RDONLY | libc::O_CLOEXEC, 0).step_ctx("open the source", format_args!("{path}"))?;
    let st = fs::fstat(fd.as_raw_fd()).step("stat the source")?;
    if st.st_mode & libc::S_IFMT == libc::S_IFDIR {
        if fs::exists_at(fd.as_raw_fd(), "oci-layout") && fs::exists_at(fd.as_raw_fd(), "index.json") {
            return Ok(Source::Oci(Blobs::Dir(fd)));
        }
        if fs::exists_at(fd.as_raw_fd(), "config.json") {
            return Ok(Source::BundleDir(fd));
        }
        return Err(bad(format_args!(
            "a directory that is neither a bundle (config.json) nor an OCI image layout (oci-layout, index.json)"
        )));
    }
    if st.st_mode & libc::S_IFMT != libc::S_IFREG {
        return Err(bad(format_args!("not a directory or a regular file")));
    }
    let mut head = [0u8; 8];
    let n = fs::pread(fd.as_raw_fd(), &mut head, 0).step("read the source")?;
    if super::stream::Compression::sniff(&head[..n]) != super::stream::Compression::None {
        let prefix = bundle_prefix(fd.as_raw_fd(), st.st_size as u64)?;
        return Ok(Source::BundleTar { fd, prefix });
    }
    let blobs = Blobs::index_archive(fd, "the source archive")?;
    if blobs.has("oci-layout") && blobs.has("index.json") {
        return Ok(Source::Oci(blobs));
    }
    if blobs.has("manifest.json") {
        return Ok(Source::Docker(blobs));
    }
    let Blobs::Archive { fd, members } = blobs else {
        unreachable!()
    };
    let prefix = members
        .iter()
        .filter_map(|(n, _, _)| n.strip_suffix("config.json"))
        .filter(|p| p.is_empty() || (p.ends_with('/') && !p[..p.len() - 1].contains('/')))
        .min_by_key(|p| p.len())
        .map(String::from)
        .ok_or_else(|| {
            bad(format_args!(
                "a tar that is not an image archive (oci-layout, manifest.json) or a bundle (config.json)"
            ))
        })?;
    Ok(Source::BundleTar { fd, prefix })
}

/// A compressed bundle tarball: find the directory holding config.json (top level, or one
/// directory down) by reading it through once.
fn bundle_prefix(fd: RawFd, size: u64) -> Result<String> {
    let mut r = super::stream::decompress(
        Region::new(fd, 0, size),
        super::stream::expansion_limit(size),
        "the bundle tarball",
    )?;
    let mut t = Tar::new(&mut *r, "the bundle tarball");
    let mut best: Option<String> = None;
    while let Some(e) = t.next()? {
        let p = super::tree::clean_path(&e.path).unwrap_or_default();
        if let Some(pre) = p.strip_suffix("config.json") {
            if (pre.is_empty() || (pre.ends_with('/') && !pre[..pre.len() - 1].contains('/')))
                && best.as_ref().is_none_or(|b| pre.len() < b.len())
            {
                best = Some(pre.into());
            }
        }
    }
    best.ok_or_else(|| Error::input("read the source").ctx(format_args!("the bundle tarball has no config.json")))
}
