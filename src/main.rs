fn main() -> std::process::ExitCode {
    fleet_incentives::cli::main()
}
