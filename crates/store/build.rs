//! Embeds the migration folders in the library: `OUT_DIR/migrations.rs` lists each folder's
//! `.sql` files, by name, with their text. (sqlx's `migrate!` macro would do the same, but it
//! brings a second build of both database drivers, tokio and rustls for the compiler to run.)

use std::path::Path;

fn main() {
    let out = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    // Read when the script runs, not when it was compiled: one compiled script serves every
    // checkout that shares a target folder, and must name this checkout's files.
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let mut code = String::new();
    for (name, folder) in [("SQLITE", "migrations/sqlite"), ("POSTGRES", "migrations/postgres")] {
        println!("cargo:rerun-if-changed={folder}");
        let dir = Path::new(&manifest_dir).join(folder);
        let mut files: Vec<String> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|entry| entry.expect("a readable migration folder").file_name().to_string_lossy().into_owned())
            .filter(|file| file.ends_with(".sql"))
            .collect();
        files.sort();
        code.push_str(&format!("/// The `{folder}` folder: (file name, SQL), by name.\n"));
        code.push_str(&format!("pub const {name}: &[(&str, &str)] = &[\n"));
        for file in files {
            let path = dir.join(&file);
            code.push_str(&format!("    ({file:?}, include_str!({:?})),\n", path.display().to_string()));
        }
        code.push_str("];\n");
    }
    std::fs::write(Path::new(&out).join("migrations.rs"), code).expect("write OUT_DIR/migrations.rs");
}
