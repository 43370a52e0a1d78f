//! TEST DOUBLE binary: serves [`velocity_test_registry`]'s Confluent-API-compatible
//! schema registry for the demo and manual tests. Not a production registry.
//!
//!     velocity-test-registry [LISTEN_ADDR (default 127.0.0.1:8081)] [USER:PASSWORD]

fn main() {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:8081".into());
    let auth = args.next();
    let r = match velocity_test_registry::TestRegistry::start_with(
        velocity_test_registry::new_store(),
        &addr,
        auth,
    ) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("velocity-test-registry: cannot listen on {addr}: {e}");
            std::process::exit(1);
        }
    };
    println!(
        "velocity-test-registry (TEST DOUBLE) listening on {}",
        r.url
    );
    // serve until killed; `r` keeps the server thread alive
    let _serving = r;
    loop {
        std::thread::park();
    }
}
