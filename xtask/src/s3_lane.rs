//! `cargo xtask s3`: inputs and products on S3. Starts an S3-compatible server on loopback
//! (moto's, installed from PyPI into a venv the lane creates, `<target>/s3-venv`, kept
//! between runs), creates a bucket, and runs the `s3::` tests of `rulec` (built with the
//! `s3` and `ballista` features) against it, with the endpoint and credentials in the
//! environment as the AWS SDKs read them.

use anyhow::{Context as _, bail};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// The server, pinned (boto3 comes with it; the lane creates the bucket with it).
const PACKAGES: &[&str] = &["moto[server]==5.2.6"];

const BUCKET: &str = "rulec-lane";

/// Stops the server when the lane ends, however it ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn run(root: &Path, target: &Path) -> anyhow::Result<()> {
    let python = super::readers_lane::venv(target, "s3-venv", PACKAGES)?;
    let port = free_port()?;
    let endpoint = format!("http://127.0.0.1:{port}");
    let log = target.join("s3-lane-server.log");
    let server = Server(
        Command::new(python.with_file_name("moto_server"))
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log)?)
            .spawn()
            .context("cannot start moto_server")?,
    );
    let credentials = [
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
        ("AWS_ALLOW_HTTP", "true"),
        ("AWS_ACCESS_KEY_ID", "lane"),
        ("AWS_SECRET_ACCESS_KEY", "lane"),
        ("AWS_REGION", "us-east-1"),
    ];
    // The bucket, once the server answers.
    let create = format!(
        "import boto3, time\n\
         for attempt in range(100):\n\
         \x20   try:\n\
         \x20       boto3.client('s3', endpoint_url='{endpoint}').create_bucket(Bucket='{BUCKET}')\n\
         \x20       break\n\
         \x20   except Exception as e:\n\
         \x20       if attempt == 99: raise\n\
         \x20       time.sleep(0.1)\n"
    );
    let status = Command::new(&python)
        .args(["-c", &create])
        .envs(credentials)
        .status()
        .context("cannot run the venv's python")?;
    if !status.success() {
        bail!(
            "cannot create the bucket on {endpoint} (server log: {})",
            log.display()
        );
    }
    let status = super::cargo()
        .args([
            "test",
            "-p",
            "rulec",
            "--features",
            "s3,ballista",
            "--locked",
            "--test",
            "it",
            "--",
            "s3::",
            "--ignored",
        ])
        .envs(credentials)
        .env("RULEC_TEST_S3_BUCKET", BUCKET)
        .current_dir(root)
        .status()?;
    drop(server);
    if !status.success() {
        bail!("the s3 tests failed (server log: {})", log.display());
    }
    Ok(())
}

/// A TCP port nobody listens on now.
fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}
