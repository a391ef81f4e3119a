//! Command-line glue: parse, dispatch, map errors to exit codes. No logic here.

mod cmd;

use clap::Parser;

fn main() {
    let cli = cmd::Cli::parse();
    let code = match cmd::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("opentape: {e}");
            e.exit_code()
        }
    };
    std::process::exit(code);
}
