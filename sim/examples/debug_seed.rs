//! Prints the first minute of a 3-node cluster's life for one seed: how to look at a seed
//! a test reported. `cargo run --example debug_seed -- SEED`

fn main() {
    let seed: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let mut sim = match kraftsim::SimCluster::new(kraftsim::SimConfig::new(3, seed)) {
        Ok(sim) => sim,
        Err(e) => {
            eprintln!("cannot start: {e}");
            std::process::exit(2);
        }
    };
    sim.run_for(60_000);
    for l in sim.trace() {
        println!("{:>8} ms  node {}  {}", l.at_ms, l.node, l.text);
    }
    for id in sim.ids().to_vec() {
        if let Some(n) = sim.node(id) {
            println!("{}", n.controller().status());
            println!("broker {id}: {:?}", n.replica_manager().lifecycle().state());
        }
    }
}
