//! `cargo xtask nvim`: the end-to-end editor lane. Headless Neovim (Debian's package,
//! installed here when missing) runs `editors/neovim/lane.lua` against `rulec lsp` on a
//! copy of the CPG pack whose `libcst_nodes.sql` has a typo: the diagnostic must arrive,
//! clear when the buffer is fixed, and the hover of an output column must show its type and
//! lineage.

use anyhow::{Context as _, bail};
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub fn run(root: &Path, target: &Path) -> anyhow::Result<()> {
    ensure_neovim()?;
    let rulec = super::build_debug(root, target, &["rulec"])?.join("rulec");
    let lane = target.join("editor-lane");
    let pack = lane.join("cpg");
    if lane.exists() {
        std::fs::remove_dir_all(&lane)?;
    }
    copy_pack(&root.join("rules/cpg"), &pack)?;
    let rule = pack.join("libcst_nodes.sql");
    let text = std::fs::read_to_string(&rule)?;
    let typo = text.replacen("f.node.kind AS kind", "f.node.knd AS kind", 1);
    if typo == text {
        bail!("libcst_nodes.sql no longer has `f.node.kind AS kind`");
    }
    std::fs::write(&rule, typo)?;
    let out = lane.join("lane.jsonl");
    let mut child = Command::new("nvim")
        .args(["--headless", "--clean", "-c"])
        .arg(format!(
            "luafile {}",
            root.join("editors/neovim/lane.lua").display()
        ))
        .env("RULEC_BIN", &rulec)
        .env("RULEC_LANE_PACK", &pack)
        .env("RULEC_LANE_OUT", &out)
        .stdin(Stdio::null())
        .spawn()
        .context("cannot start nvim")?;
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if started.elapsed() > Duration::from_secs(300) {
            let _ = child.kill();
            bail!("nvim did not finish in 300 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let seen: Vec<Value> = std::fs::read_to_string(&out)
        .with_context(|| format!("nvim wrote nothing to {}", out.display()))?
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?;
    let get = |key: &str| {
        seen.iter()
            .find(|v| v["key"] == key)
            .map(|v| v["value"].clone())
    };
    if let Some(error) = get("error") {
        bail!("the Neovim lane failed: {error}");
    }
    if !status.success() {
        bail!("nvim exited with {status}");
    }
    let diagnostic = get("diagnostic").context("no diagnostic recorded")?;
    println!("diagnostic: {diagnostic}");
    let message = diagnostic["message"].as_str().unwrap_or_default();
    if diagnostic["code"] != "Q001" || !message.contains("knd") || diagnostic["source"] != "rulec" {
        bail!("unexpected diagnostic: {diagnostic}");
    }
    if get("cleared") != Some(Value::Bool(true)) {
        bail!("the diagnostic did not clear");
    }
    let hover = get("hover").context("no hover recorded")?;
    let hover = hover.as_str().unwrap_or_default();
    println!("hover:\n{hover}");
    for expected in [
        "libcst_nodes.kind: utf8",
        "copy of libcst_files.nodes[*].kind",
    ] {
        if !hover.contains(expected) {
            bail!("the hover text lacks `{expected}`");
        }
    }
    println!(
        "the Neovim lane passed in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Installs Debian's neovim when `nvim` is missing (as root, or through sudo).
fn ensure_neovim() -> anyhow::Result<()> {
    let present = Command::new("nvim")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if present {
        return Ok(());
    }
    println!("nvim not found: installing Debian's neovim");
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0"));
    let apt = |args: &[&str]| -> anyhow::Result<()> {
        let mut command = if root {
            Command::new("apt-get")
        } else {
            let mut sudo = Command::new("sudo");
            sudo.arg("apt-get");
            sudo
        };
        let status = command
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .context("cannot run apt-get")?;
        if !status.success() {
            bail!("apt-get {} failed", args.join(" "));
        }
        Ok(())
    };
    apt(&["update", "-qq"])?;
    apt(&["install", "-y", "-qq", "neovim"])
}

/// Copies a pack without its data, products and cache.
fn copy_pack(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let name = entry.file_name();
        let name_text = name.to_string_lossy();
        if name_text == "data" || name_text == "out" || name_text.starts_with('.') {
            continue;
        }
        if entry.file_type()?.is_dir() {
            copy_pack(&entry.path(), &to.join(&name))?;
        } else {
            std::fs::copy(entry.path(), to.join(&name))?;
        }
    }
    Ok(())
}
