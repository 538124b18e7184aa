//! Generates the gRPC code of `proto/*.proto` (client and server) with protox, so no protoc is
//! needed, and writes the descriptor set that gRPC server reflection serves.

use prost::Message;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    const PROTOS: &[&str] = &["external.proto", "polyrec.proto"];
    println!("cargo:rerun-if-changed=proto");
    let fds = protox::compile(PROTOS, ["proto"])?;
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    // Reflection describes the services polyrec serves, not the external ones it calls.
    let mut served = fds.clone();
    served.file.retain(|file| file.name() == "polyrec.proto");
    std::fs::write(out.join("polyrec_descriptor.bin"), served.encode_to_vec())?;
    tonic_prost_build::configure().compile_fds(fds)?;
    Ok(())
}
