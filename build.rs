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
    // Where the linker is rust-lld (.cargo/config.toml): GNU ld refuses to drop sections that
    // gcc's crtbegin refers to (armv7 links with gcc; its unwind tables are .ARM.exidx).
    let lld = env_is("CARGO_CFG_TARGET_ARCH", "aarch64") || env_is("CARGO_CFG_TARGET_ARCH", "x86_64");
    if env_is("PROFILE", "release") && env_is("CARGO_CFG_TARGET_OS", "linux") && lld {
        let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into());
        println!("cargo:rustc-link-arg-bins=-T");
        println!("cargo:rustc-link-arg-bins={dir}/scripts/no-unwind-tables.ld");
    }
}
