fn main() {
    std::process::exit(rftwin::cli::main());
}
