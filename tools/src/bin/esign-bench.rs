//! The `esign-bench` binary: esign's load generators (see docs/benchmarks.md); everything lives in
//! the library.

/// mimalloc, as in the `esign` binary: the service this binary starts as its child is this binary
/// too (`esign-bench esign serve`), and it must run with the allocator the service ships with.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    esign_tools::bench::cli::main()
}
