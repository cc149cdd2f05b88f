//! Generates Rust code for every .proto file, with protoc from
//! protoc-bin-vendored unless PROTOC names another one.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    if std::env::var_os("PROTOC").is_none() {
        // SAFETY: build scripts are single-threaded; nothing reads the
        // environment concurrently.
        unsafe { std::env::set_var("PROTOC", protoc_bin_vendored::protoc_bin_path()?) };
    }
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    let protos = ["proto/profile.proto", "proto/node.proto", "proto/coordinator.proto"];
    for p in &protos {
        println!("cargo:rerun-if-changed={p}");
    }
    tonic_prost_build::configure().file_descriptor_set_path(out.join("ember_descriptor.bin")).compile_protos(&protos, &["proto"])?;
    Ok(())
}
