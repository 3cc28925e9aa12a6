//! Reports: the console (for people), JUnit XML and JSON (for CI), and an HTML page that draws
//! every scenario as a sequence diagram.

pub mod console;
pub mod html;
pub mod json;
pub mod junit;

use std::path::Path;

/// Writes a report file, creating its folder; errors name the file.
fn write_file(path: &Path, text: &str) -> Result<(), String> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}
