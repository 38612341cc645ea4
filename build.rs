// Record the git commit for `mote --version` and `mote features`.
fn main() {
    println!("cargo:rerun-if-changed=.git/HEAD");
    println!("cargo:rerun-if-changed=.git/refs");
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
}
