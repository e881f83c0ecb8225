//! Deploys pushed over git's smart HTTP protocol: `git http-backend` behind a small CGI web
//! server (Python's `http.server`) on 127.0.0.1.

mod common;

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};

use common::{TestResult, bare, git};

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn http_backend() -> Option<String> {
    let out = Command::new("git").arg("--exec-path").output().ok()?;
    let dir = String::from_utf8(out.stdout).ok()?;
    let path = format!("{}/git-http-backend", dir.trim());
    std::path::Path::new(&path).exists().then_some(path)
}

#[tokio::test]
async fn deploy_over_smart_http() -> TestResult {
    let (Some(backend), Ok(_)) = (http_backend(), Command::new("python3").arg("--version").output()) else {
        eprintln!("note: git-http-backend or python3 missing; skipping the smart HTTP test");
        return Ok(());
    };
    let dir = tempfile::tempdir()?;
    let served = dir.path().join("served");
    let repo = served.join("gitops.git");
    bare(&repo)?;
    git(&repo, &["config", "http.receivepack", "true"])?;
    let cgi = dir.path().join("cgi-bin");
    std::fs::create_dir_all(&cgi)?;
    let script = cgi.join("git");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nexport GIT_PROJECT_ROOT='{}'\nexport GIT_HTTP_EXPORT_ALL=1\nexport GIT_CONFIG_NOSYSTEM=1\nexec '{backend}'\n",
            served.display()
        ),
    )?;
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))?;
    }
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    // The CGI handler would drop to `nobody` when run as root; keep the current user.
    let code = format!(
        "import os, http.server as h; h.nobody_uid = lambda: os.getuid(); \
         h.test(HandlerClass=h.CGIHTTPRequestHandler, port={port}, bind='127.0.0.1')"
    );
    let server = Server(
        Command::new("python3")
            .args(["-W", "ignore", "-c", &code])
            .current_dir(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?,
    );
    common::wait_for_port(port, "HTTP server");
    let url = format!("http://127.0.0.1:{port}/cgi-bin/git/gitops.git");
    common::two_writers_deploy_and_roll_back(&url, dir.path(), &repo).await?;
    drop(server);
    Ok(())
}
