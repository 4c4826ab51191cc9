//! Atomic PNG writing.

use super::*;

// ---------------------------------------------------------------------------------------------
// Atomic PNG writing
// ---------------------------------------------------------------------------------------------


pub(super) fn temp_path(path: &Path) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = path
        .file_name()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_else(|| "figure.png".into());
    let k = COUNTER.fetch_add(1, Ordering::Relaxed);
    path.with_file_name(format!(".{name}.tmp-{}-{k}", std::process::id()))
}

/// Renders with `draw` into an RGB buffer of `size`, encodes it as PNG into a temporary file next
/// to `path` and renames it into place. On any error the temporary file is removed.
pub(super) fn write_png(path: &Path, size: (u32, u32), draw: impl FnOnce(&Area) -> DrawResult) -> Result<()> {
    let (w, h) = size;
    if !(160..=MAX_SIDE).contains(&w) || !(120..=MAX_SIDE).contains(&h) {
        return Err(Error::input(
            &path.display().to_string(),
            "size",
            format!("figure size {w} × {h} px is outside 160..{MAX_SIDE} × 120..{MAX_SIDE}"),
            "choose a size such as 640 × 560",
        ));
    }
    ensure_fonts()?;
    let mut buf = vec![255u8; 3 * w as usize * h as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buf, size).into_drawing_area();
        let drawn = draw(&root).and_then(|_| root.present().map_err(|e| e.into()));
        drawn.map_err(|e| Error::Other(format!("plotting {}: {e}", path.display())))?;
    }
    let tmp = temp_path(path);
    let written = (|| -> std::io::Result<()> {
        let file = std::fs::File::create(&tmp)?;
        let mut out = std::io::BufWriter::new(file);
        let mut enc = png::Encoder::new(&mut out, w, h);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut writer = enc.write_header().map_err(std::io::Error::other)?;
        writer.write_image_data(&buf).map_err(std::io::Error::other)?;
        writer.finish().map_err(std::io::Error::other)?;
        out.flush()?;
        out.get_ref().sync_all()
    })()
    .map_err(|e| Error::io(&tmp, e))
    .and_then(|_| std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e)));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}
