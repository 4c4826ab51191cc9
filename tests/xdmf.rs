//! XDMF sidecar: well-formed XML whose HDF items exist, with the right shapes, order and values.

use std::path::PathBuf;

use ndarray::{Array3, Ix3};
use num_complex::Complex32;
use rftwin::io::{write_h5_fields, write_xdmf, xdmf_helper_path, FieldDataset};

#[derive(Debug)]
struct El {
    name: String,
    attrs: Vec<(String, String)>,
    text: String,
}

impl El {
    fn attr(&self, k: &str) -> Option<&str> {
        self.attrs.iter().find(|(a, _)| a == k).map(|(_, v)| v.as_str())
    }
}

/// A strict little XML well-formedness check: balanced, properly nested tags, quoted attributes,
/// only the five predefined entities, exactly one root. Returns the elements in document order.
fn parse_xml(s: &str) -> Result<Vec<El>, String> {
    let unescape = |t: &str| -> Result<String, String> {
        let mut out = String::new();
        let mut rest = t;
        while let Some(p) = rest.find('&') {
            out.push_str(&rest[..p]);
            let end = rest[p..].find(';').ok_or("unterminated entity")? + p;
            out.push(match &rest[p + 1..end] {
                "amp" => '&',
                "lt" => '<',
                "gt" => '>',
                "quot" => '"',
                "apos" => '\'',
                e => return Err(format!("unknown entity &{e};")),
            });
            rest = &rest[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    };
    let mut els: Vec<El> = Vec::new();
    let mut stack: Vec<usize> = Vec::new();
    let mut roots = 0;
    let mut i = 0;
    while i < s.len() {
        let r = &s[i..];
        if let Some(r2) = r.strip_prefix("<?") {
            i += 2 + r2.find("?>").ok_or("unterminated <?")? + 2;
        } else if r.starts_with("<!--") {
            i += r.find("-->").ok_or("unterminated comment")? + 3;
        } else if let Some(r2) = r.strip_prefix("</") {
            let end = r2.find('>').ok_or("unterminated end tag")?;
            let name = r2[..end].trim();
            let top = stack.pop().ok_or(format!("</{name}> without start tag"))?;
            if els[top].name != name {
                return Err(format!("</{name}> closes <{}>", els[top].name));
            }
            i += 2 + end + 1;
        } else if let Some(r2) = r.strip_prefix('<') {
            let end = r2.find('>').ok_or("unterminated tag")?;
            let mut body = &r2[..end];
            let selfclose = body.ends_with('/');
            if selfclose {
                body = &body[..body.len() - 1];
            }
            let name_end = body.find(char::is_whitespace).unwrap_or(body.len());
            let name = &body[..name_end];
            if name.is_empty() || !name.chars().all(|c| c.is_alphanumeric() || ":_-.".contains(c)) {
                return Err(format!("bad tag name '{name}'"));
            }
            let mut attrs = Vec::new();
            let mut a = body[name_end..].trim_start();
            while !a.is_empty() {
                let eq = a.find('=').ok_or(format!("attribute without value in <{name}>"))?;
                let key = a[..eq].trim().to_string();
                let v = a[eq + 1..].trim_start();
                let q = v
                    .chars()
                    .next()
                    .filter(|c| *c == '"' || *c == '\'')
                    .ok_or("unquoted attribute")?;
                let close = v[1..].find(q).ok_or("unterminated attribute value")?;
                let raw = &v[1..1 + close];
                if raw.contains('<') {
                    return Err("'<' in attribute value".into());
                }
                if attrs.iter().any(|(k, _): &(String, String)| *k == key) {
                    return Err(format!("duplicate attribute {key}"));
                }
                attrs.push((key, unescape(raw)?));
                a = v[1 + close + 1..].trim_start();
            }
            if stack.is_empty() {
                roots += 1;
            }
            els.push(El {
                name: name.to_string(),
                attrs,
                text: String::new(),
            });
            if !selfclose {
                stack.push(els.len() - 1);
            }
            i += 1 + end + 1;
        } else {
            let end = r.find('<').unwrap_or(r.len());
            let text = unescape(&r[..end])?;
            match stack.last() {
                Some(&top) => els[top].text.push_str(text.trim()),
                None if text.trim().is_empty() => {}
                None => return Err(format!("text outside the root: {text:?}")),
            }
            i += end;
        }
    }
    if !stack.is_empty() {
        return Err(format!("unclosed <{}>", els[*stack.last().unwrap()].name));
    }
    if roots != 1 {
        return Err(format!("{roots} root elements"));
    }
    Ok(els)
}

#[test]
fn xml_checker_rejects_broken_xml() {
    assert!(parse_xml("<a><b></a></b>").is_err());
    assert!(parse_xml("<a x=1/>").is_err());
    assert!(parse_xml("<a>&nbsp;</a>").is_err());
    assert!(parse_xml("<a/><b/>").is_err());
    assert!(parse_xml("<a><b/>").is_err());
    assert!(parse_xml("<?xml version=\"1.0\"?>\n<a x=\"&lt;1\"><b>t</b></a>\n").is_ok());
}

fn out_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("rftwin-xdmf-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn xdmf_sidecar_references_existing_helper_datasets() {
    let d = out_dir("sidecar");
    // Distinct values so that a transposition error shows: value = i + 10 j + 100 k (+ i·0.5 imaginary).
    let (nx, ny, nz) = (3, 4, 5);
    let a = Array3::from_shape_fn((nx, ny, nz), |(i, j, k)| {
        Complex32::new((i + 10 * j + 100 * k) as f32, 0.5 * i as f32 - 1.0)
    });
    let b = a.mapv(|c| c * 2.0);
    // A staggered grid (different origin) must become a second grid.
    let c = Array3::from_shape_fn((nx, ny, nz + 1), |(i, _, k)| Complex32::new(i as f32, k as f32));
    let ds = |name: &str, data, origin_m, unit| FieldDataset {
        name: name.into(),
        data,
        origin_m,
        spacing_m: [0.01, 0.02, 0.03],
        unit,
        freq_hz: 63.87e6,
        quantity: "complex peak phasor <test> & \"quotes\"",
    };
    let sets = vec![
        ds("b1/plus", &a, [-0.1, -0.2, -0.3], "µT"),
        ds("e/x", &b, [-0.1, -0.2, -0.3], "V/m"),
        ds("e/z", &c, [-0.1, -0.2, -0.315], "V/m"),
    ];
    let h5 = d.join("fields.h5");
    write_h5_fields(&h5, &sets).unwrap();
    let xmf = d.join("fields.xmf");
    write_xdmf(&xmf, "fields.h5", &sets).unwrap();
    // Running it again replaces the helpers instead of failing.
    write_xdmf(&xmf, "fields.h5", &sets).unwrap();

    let text = std::fs::read_to_string(&xmf).unwrap();
    let els = parse_xml(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(els[0].name, "Xdmf");
    let grids: Vec<&El> = els
        .iter()
        .filter(|e| e.name == "Grid" && e.attr("GridType") == Some("Uniform"))
        .collect();
    assert_eq!(grids.len(), 2);
    let topo: Vec<&El> = els.iter().filter(|e| e.name == "Topology").collect();
    assert_eq!(topo[0].attr("TopologyType"), Some("3DCoRectMesh"));
    assert_eq!(topo[0].attr("Dimensions"), Some("5 4 3")); // Z Y X
    assert_eq!(topo[1].attr("Dimensions"), Some("6 4 3"));
    let origin: Vec<f64> = els
        .iter()
        .find(|e| e.attr("Name") == Some("Origin"))
        .unwrap()
        .text
        .split_whitespace()
        .map(|v| v.parse().unwrap())
        .collect();
    assert_eq!(origin, vec![-0.3, -0.2, -0.1]);
    let spacing: Vec<f64> = els
        .iter()
        .find(|e| e.attr("Name") == Some("Spacing"))
        .unwrap()
        .text
        .split_whitespace()
        .map(|v| v.parse().unwrap())
        .collect();
    assert_eq!(spacing, vec![0.03, 0.02, 0.01]);
    assert!(els
        .iter()
        .any(|e| e.attr("Value") == Some("complex peak phasor <test> & \"quotes\"")));

    let file = hdf5::File::open(&h5).unwrap();
    let items: Vec<&El> = els
        .iter()
        .filter(|e| e.name == "DataItem" && e.attr("Format") == Some("HDF"))
        .collect();
    assert_eq!(items.len(), 9);
    for it in &items {
        let (fname, path) = it.text.split_once(':').unwrap();
        assert_eq!(fname, "fields.h5");
        let ds = file.dataset(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let dims: Vec<usize> = it
            .attr("Dimensions")
            .unwrap()
            .split(' ')
            .map(|v| v.parse().unwrap())
            .collect();
        assert_eq!(ds.shape(), dims, "{path}");
        assert_eq!(it.attr("Precision"), Some("4"));
        assert!(ds.dtype().unwrap().is::<f32>());
    }
    // Values: helper[k][j][i] = part(data[i][j][k]).
    let abs = file
        .dataset(&xdmf_helper_path("b1/plus", "abs"))
        .unwrap()
        .read::<f32, Ix3>()
        .unwrap();
    let re = file
        .dataset(&xdmf_helper_path("e/x", "re"))
        .unwrap()
        .read::<f32, Ix3>()
        .unwrap();
    let im = file
        .dataset(&xdmf_helper_path("e/x", "im"))
        .unwrap()
        .read::<f32, Ix3>()
        .unwrap();
    for ((i, j, k), v) in a.indexed_iter() {
        assert!((abs[[k, j, i]] - v.norm()).abs() < 1e-4);
        assert_eq!(re[[k, j, i]], b[[i, j, k]].re);
        assert_eq!(im[[k, j, i]], b[[i, j, k]].im);
    }
    // The original complex datasets are untouched.
    let orig = file.dataset("b1/plus").unwrap().read::<Complex32, Ix3>().unwrap();
    assert_eq!(orig, a);
    assert!(std::fs::read_dir(&d)
        .unwrap()
        .all(|e| !e.unwrap().file_name().to_string_lossy().contains(".tmp-")));
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn xdmf_without_h5_file_is_an_input_error() {
    let d = out_dir("nofile");
    std::fs::create_dir_all(&d).unwrap();
    let a = Array3::<Complex32>::zeros((2, 2, 2));
    let sets = vec![FieldDataset {
        name: "a".into(),
        data: &a,
        origin_m: [0.0; 3],
        spacing_m: [0.01; 3],
        unit: "V/m",
        freq_hz: 1.0,
        quantity: "q",
    }];
    let err = write_xdmf(&d.join("f.xmf"), "missing.h5", &sets).unwrap_err();
    assert!(matches!(err, rftwin::error::Error::Input { .. }), "{err}");
    assert!(!d.join("f.xmf").exists());
    let _ = std::fs::remove_dir_all(&d);
}
