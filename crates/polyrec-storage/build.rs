//! Generates the Milvus gRPC client (feature `milvus`) from the descriptor set checked in at
//! `proto/milvus/milvus-min.fds`, so no protoc is needed (see `proto/milvus/NOTES.md`). Without
//! the feature this does nothing.

fn main() -> std::io::Result<()> {
    #[cfg(feature = "milvus")]
    milvus()?;
    Ok(())
}

#[cfg(feature = "milvus")]
fn milvus() -> std::io::Result<()> {
    use prost::Message;

    const FDS: &str = "proto/milvus/milvus-min.fds";
    println!("cargo:rerun-if-changed={FDS}");
    let bytes = std::fs::read(FDS)?;
    let fds = prost_types::FileDescriptorSet::decode(bytes.as_slice()).map_err(std::io::Error::other)?;
    // Client only; `transport` is off, so the client is built on a channel we configure ourselves.
    tonic_prost_build::configure().build_server(false).build_transport(false).compile_fds(fds)
}
