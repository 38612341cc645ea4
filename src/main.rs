fn main() {
    std::process::exit(mote::cli::main());
}
