//! Link flags for the `chainseal` binary.

fn main() {
    // A position-dependent executable (`-no-pie`) applies none of the ~40,000 relative
    // relocations a PIE needs at start-up (each touches a page of .data.rel.ro: ~160 page
    // faults, a third of `verify-blob`'s run). `verify-blob` runs once per artifact, so
    // start-up is most of its time. Libraries, heap and stack stay randomised; set
    // CHAINSEAL_PIE=1 at build time to keep the executable itself randomised too.
    let target = std::env::var("TARGET").unwrap_or_default();
    if target.contains("linux") && std::env::var_os("CHAINSEAL_PIE").is_none() {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
    println!("cargo:rerun-if-env-changed=CHAINSEAL_PIE");
}
