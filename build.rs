//! 1. Record the git commit for `mote --version` and `mote features`.
//! 2. Release builds of the mote binary drop the unwind tables (scripts/no-unwind-tables.ld
//!    says why): release profiles (panic = "abort" in Cargo.toml), only the binary (tests
//!    unwind).

fn main() {
    println!("cargo:rerun-if-changed=.git/HEAD");
    println!("cargo:rerun-if-changed=.git/refs");
    println!("cargo:rerun-if-changed=scripts/no-unwind-tables.ld");
    if let Ok(out) = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
    {
        if out.status.success() {
            let c = String::from_utf8_lossy(&out.stdout).trim().to_string();
            if !c.is_empty() {
                println!("cargo:rustc-env=MOTE_COMMIT={c}");
            }
        }
    }
    let env_is = |k: &str, v: &str| std::env::var(k).is_ok_and(|x| x == v);
    // Only where .cargo/config.toml links with rust-lld: the x86_64 and aarch64 musl targets.
    // GNU ld refuses to drop sections that gcc's crtbegin refers to (the host's gnu target;
    // armv7, which links with gcc and whose unwind tables are .ARM.exidx anyway).
    let lld = env_is("CARGO_CFG_TARGET_ENV", "musl")
        && (env_is("CARGO_CFG_TARGET_ARCH", "aarch64") || env_is("CARGO_CFG_TARGET_ARCH", "x86_64"));
    if env_is("PROFILE", "release") && lld {
        let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into());
        println!("cargo:rustc-link-arg-bins=-T");
        println!("cargo:rustc-link-arg-bins={dir}/scripts/no-unwind-tables.ld");
    }
}
