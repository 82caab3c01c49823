//! The `swarmfeed` command line.

fn main() {
    println!("swarmfeed");
}
