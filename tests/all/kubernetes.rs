//! docs/kubernetes: the containerd runtime entry, RuntimeClass and
//! workloads for kiln's shim. No cluster is reachable here, so they are
//! checked as a cluster would read them: every YAML document parses, and
//! the names that must agree do (containerd runtime type, RuntimeClass
//! handler, runtimeClassName, the image names `release` gives).

use std::path::PathBuf;

use yaml_rust2::{Yaml, YamlLoader};

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/kubernetes")
}

fn field<'a>(y: &'a Yaml, path: &[&str]) -> &'a Yaml {
    path.iter().fold(y, |y, k| &y[*k])
}

#[test]
fn manifests_parse_and_agree_with_the_shim_and_the_release_names() {
    // containerd's CRI runtimes: name -> runtime_type.
    let text = std::fs::read_to_string(dir().join("containerd-config.toml")).unwrap();
    let config: toml::Value = toml::from_str(&text).unwrap();
    let runtimes = config["plugins"]["io.containerd.grpc.v1.cri"]["containerd"]["runtimes"]
        .as_table()
        .expect("a runtimes table");
    let handlers: Vec<&String> = runtimes
        .iter()
        .filter(|(_, r)| r["runtime_type"].as_str() == Some(kiln::install::SHIM_RUNTIME))
        .map(|(name, _)| name)
        .collect();
    assert_eq!(handlers.len(), 1, "one runtime of type {}", kiln::install::SHIM_RUNTIME);

    let recipes = kiln::recipe::load_all(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("recipes")).unwrap();
    let images: Vec<String> = recipes.iter().map(|r| kiln::release::image_name(&r.name, &r.version)).collect();

    let mut classes = Vec::new();
    let mut workloads = Vec::new();
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 2, "{files:?}");
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        let docs = YamlLoader::load_from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        assert!(!docs.is_empty(), "{}: no document", f.display());
        for d in docs {
            assert!(d["apiVersion"].as_str().is_some(), "{}: no apiVersion", f.display());
            match d["kind"].as_str() {
                Some("RuntimeClass") => classes.push(d),
                Some("Pod" | "Job" | "Deployment") => workloads.push((f.clone(), d)),
                k => panic!("{}: unexpected kind {k:?}", f.display()),
            }
        }
    }
    assert_eq!(classes.len(), 1);
    let class = &classes[0];
    assert_eq!(class["apiVersion"].as_str(), Some("node.k8s.io/v1"));
    assert_eq!(class["handler"].as_str(), Some(handlers[0].as_str()));
    let class_name = field(class, &["metadata", "name"]).as_str().expect("a name");
    assert!(!workloads.is_empty());
    for (f, w) in &workloads {
        // A Pod's spec, or a Job's/Deployment's pod template.
        let spec = match w["kind"].as_str() {
            Some("Pod") => &w["spec"],
            _ => field(w, &["spec", "template", "spec"]),
        };
        assert_eq!(spec["runtimeClassName"].as_str(), Some(class_name), "{}", f.display());
        let containers = spec["containers"].as_vec().expect("containers");
        for c in containers {
            let image = c["image"].as_str().expect("an image");
            assert!(
                images.iter().any(|i| i == image),
                "{}: {image} is not an image kiln releases ({images:?})",
                f.display()
            );
            let argv0 = c["command"][0].as_str().expect("a command");
            assert!(!argv0.is_empty() && !argv0.contains(' '), "{}: command {argv0:?}", f.display());
        }
    }
}
