//! Wiring: opens the database, starts the ingest writer, and, once credentials exist, the
//! engine (intake and workers). `bosun serve` and the integration tests both start here.

use crate::config::credentials::{self, AppCredentials};
use crate::config::run::RunConfig;
use crate::config::server::ServerConfig;
use crate::db::Db;
use crate::engine::backoff::backoff;
use crate::engine::context::{Ctx, WorkerSettings};
use crate::engine::ingest::{Feed, Ingest};
use crate::engine::intake::{run_intake, Judge};
use crate::engine::pool::run_pool;
use crate::engine::redelivery::run_redelivery_sweeps;
use crate::github::client::{GitHub, GitHubConfig};
use crate::github::signature::WebhookSecrets;
use crate::locks::lock;
use crate::run::doors::DoorKeeper;
use crate::run::egress_host::EgressHost;
use crate::run::meter_host::MeterHost;
use crate::run::prune_runs;
use crate::run::runner::Runner;
use crate::server::dashboard::logs::LiveSecrets;
use crate::server::{listen, router, Activate, AppState, Configured, Mode};
use bosun_core::trigger::Identity;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How often committed WAL frames are copied into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);

/// A built server: its router state, and the handle that stops its background work.
pub struct Bosun {
    pub state: AppState,
    shutdown: watch::Sender<bool>,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Bosun {
    pub async fn build(config: ServerConfig) -> anyhow::Result<Bosun> {
        let config = Arc::new(config);
        // The run configuration's queue limits apply in placeholder mode too.
        let run_config = RunConfig::load(config.run_config.as_deref())?;
        let runner = build_runner(&config, &run_config).await?;
        let settings = settings(&config, &run_config, runner);
        let db = Db::open(&config.data_dir).await?;
        sync_server_jobs(&db, &run_config).await?;
        let (ingest, feed) = Ingest::start(&db)?;
        // Intake starts with the engine, once there are credentials; until then the feed waits.
        let feed = Arc::new(Mutex::new(Some(feed)));
        let (shutdown, shutdown_rx) = watch::channel(false);
        let relay_shutdown = shutdown_rx.clone();
        let tasks: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let checkpoints = {
            let (db, shutdown) = (db.clone(), shutdown_rx.clone());
            tokio::spawn(async move { db.run_checkpoints(CHECKPOINT_EVERY, shutdown).await })
        };
        lock(&tasks).push(checkpoints);

        let activate: Activate = {
            let (db, config, tasks, ingest) =
                (db.clone(), config.clone(), tasks.clone(), ingest.clone());
            Arc::new(move |creds: AppCredentials| {
                let settings = settings.clone();
                let (db, config, writer, feed, tasks, shutdown) = (
                    db.clone(),
                    config.clone(),
                    ingest.clone(),
                    feed.clone(),
                    tasks.clone(),
                    shutdown_rx.clone(),
                );
                Box::pin(async move {
                    // Checked before the feed is taken: a bad key must leave setup retryable.
                    let github = GitHub::new(GitHubConfig::new(
                        &config.github_api_url,
                        creds.app_id,
                        &creds.private_key_pem,
                    ))?;
                    let feed = lock(&feed)
                        .take()
                        .ok_or_else(|| anyhow::anyhow!("the engine is already running"))?;
                    let (configured, engine) = start_engine(
                        db,
                        &config,
                        settings,
                        creds,
                        github,
                        (writer, feed),
                        shutdown,
                    );
                    lock(&tasks).push(engine);
                    Ok(configured)
                })
            })
        };

        let mut state = AppState::new(db, ingest, config.clone(), Mode::Setup, activate);
        state.live_log_secrets = Arc::new(LiveSecrets::from_env(&run_config));
        if let Some(creds) = credentials::load(&config)? {
            state.activate(creds).await?;
        }
        if let Some(url) = config.webhook_proxy_url.clone() {
            let follow =
                crate::server::webhook_relay::follow(url, router(state.clone()), relay_shutdown);
            lock(&tasks).push(tokio::spawn(follow));
        }
        Ok(Bosun {
            state,
            shutdown,
            tasks,
        })
    }

    pub fn router(&self) -> axum::Router {
        router(self.state.clone())
    }

    /// Serves the router on `listener` with the configured connection limits until
    /// `shutdown` resolves (`server::listen`). The future owns what it needs.
    pub fn serve_on(
        &self,
        listener: tokio::net::TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> impl std::future::Future<Output = ()> + Send + 'static {
        let config = &self.state.config;
        let limits = listen::ConnLimits {
            max_connections: listen::fit_to_open_files(config.max_connections),
            header_timeout: Duration::from_secs(config.header_timeout_secs.max(1)),
        };
        listen::serve(
            listener,
            self.router(),
            limits,
            self.state.connections.clone(),
            shutdown,
        )
    }

    /// Tells the engine to stop and waits for it (at most `grace`).
    pub async fn stop(self, grace: Duration) {
        let _ = self.shutdown.send(true);
        let handles: Vec<_> = std::mem::take(&mut *lock(&self.tasks));
        let all = futures_join(handles);
        if tokio::time::timeout(grace, all).await.is_err() {
            tracing::warn!("background work did not stop in time");
        }
        self.state.db.close().await;
    }
}

async fn futures_join(handles: Vec<JoinHandle<()>>) {
    for h in handles {
        let _ = h.await;
    }
}

/// The agent runner the configuration asks for; `None` in placeholder run mode. A broken run
/// configuration stops the start, with the reason.
async fn build_runner(
    config: &ServerConfig,
    run_config: &RunConfig,
) -> anyhow::Result<Option<Arc<Runner>>> {
    if config.run_mode == "placeholder" {
        tracing::warn!("run mode `placeholder`: tasks run no agent and change no code");
        return Ok(None);
    }
    let mut runner = Runner::new(&config.data_dir, run_config.clone())?;
    // Containers reach the proxies through sockets in a folder they mount: an engine on this
    // host only (the process sandbox reaches them on loopback itself).
    if run_config.containers_mount_this_host() {
        runner.doors = Some(Arc::new(DoorKeeper::prepare(&config.data_dir)?));
    }
    if run_config.meter.enabled && run_config.sandboxes_reach_proxies() {
        match MeterHost::start(run_config, runner.doors.as_deref()).await? {
            Some(meter) => runner.meter = Some(Arc::new(meter)),
            None => tracing::info!(
                "metering proxy not started: no model key in the environment and none under meter:"
            ),
        }
    } else if run_config.meter.enabled {
        tracing::warn!(
            "the Docker engine cannot mount this host's folders, so runs get no metering proxy; \
             agents get no model key unless their agent says expose_key: true"
        );
    }
    if run_config.egress.enabled && run_config.sandboxes_reach_proxies() {
        runner.egress = Some(Arc::new(EgressHost::new(run_config, runner.doors.clone())?));
    } else if run_config.egress.enabled {
        // The proxy would listen on this host, which containers that cannot mount its folders
        // cannot reach.
        tracing::warn!(
            "egress: the Docker engine cannot mount this host's folders, so runs get no egress proxy; \
             repositories that list `egress:` hosts will be told so"
        );
    }
    Ok(Some(Arc::new(runner)))
}

/// Makes the schedules table hold the server configuration's jobs: added, changed and removed
/// as the file is now; their last ticks survive restarts.
async fn sync_server_jobs(db: &Db, run_config: &RunConfig) -> anyhow::Result<()> {
    let source = bosun_core::schedule::ScheduleSource::Server;
    let rows = bosun_core::repo_config::jobs::rows(&run_config.jobs, &source);
    let clashes = db
        .sync_schedules(&source, &rows, crate::db::now_ms())
        .await?;
    anyhow::ensure!(
        clashes.is_empty(),
        "jobs in the configuration are named like jobs added with `bosun job add`: {}; rename one",
        clashes.join(", ")
    );
    Ok(())
}

fn settings(
    config: &ServerConfig,
    run_config: &RunConfig,
    runner: Option<Arc<Runner>>,
) -> WorkerSettings {
    WorkerSettings {
        runner,
        run_limits: run_config.limits.run_limits(config.workers),
        spend_limits: crate::engine::context::SpendLimits {
            repo_daily: run_config
                .limits
                .repo_daily_budget_usd
                .map(crate::config::run::micro_usd),
            installation_monthly: run_config
                .limits
                .installation_monthly_budget_usd
                .map(crate::config::run::micro_usd),
        },
        workers: config.workers,
        lease: Duration::from_secs(config.lease_secs.max(1)),
        placeholder: Duration::from_secs_f64(config.placeholder_secs.max(0.0)),
        allowed_bot_ids: config.allowed_bot_ids.clone(),
        ..WorkerSettings::default()
    }
}

/// Starts intake and the workers for an App whose client is built; never fails, so the
/// one-time `feed` is not lost to an error.
fn start_engine(
    db: Db,
    config: &ServerConfig,
    settings: WorkerSettings,
    creds: AppCredentials,
    github: GitHub,
    (writer, feed): (Ingest, Feed),
    shutdown: watch::Receiver<bool>,
) -> (Arc<Configured>, JoinHandle<()>) {
    let configured = Arc::new(Configured {
        app_id: creds.app_id,
        secrets: WebhookSecrets::parse(&creds.webhook_secret),
        github: github.clone(),
    });
    let handle = config.mention_handle.clone();
    let runner = settings.runner.clone();
    let sweep_every = Duration::from_secs(config.redelivery_sweep_secs);
    let engine = tokio::spawn(async move {
        if let Some(runner) = &runner {
            // Containers of a bosun that crashed: their tasks are requeued by lease expiry.
            match runner.sandbox.reap_orphans().await {
                Ok(0) => {}
                Ok(n) => tracing::warn!(containers = n, "removed sandboxes left by an earlier run"),
                Err(e) => tracing::warn!(error = %e, "could not look for leftover sandboxes"),
            }
        }
        let Some(identity) = learn_identity(&github, handle, shutdown.clone()).await else {
            return;
        };
        tracing::info!(handle = %identity.handle, bot = %identity.bot_login, "engine started");
        let sweeps = {
            let (github, db, shutdown) = (github.clone(), db.clone(), shutdown.clone());
            async move {
                if !sweep_every.is_zero() {
                    run_redelivery_sweeps(github, db, sweep_every, shutdown).await;
                }
            }
        };
        let ctx = Arc::new(Ctx::new(db.clone(), github, identity.clone(), settings));
        let ticks = run_schedule_ticks(db.clone(), ctx.jobs_added.clone(), shutdown.clone());
        let judge = Judge {
            identity,
            configs: ctx.repo_configs.clone(),
            jobs_added: ctx.jobs_added.clone(),
        };
        let intake = run_intake(db.clone(), judge, writer, feed, shutdown.clone());
        let pool = run_pool(ctx, shutdown.clone());
        let upkeep = upkeep(db, runner, shutdown);
        tokio::join!(intake, pool, upkeep, sweeps, ticks);
    });
    (configured, engine)
}

/// How often the schedules are looked at; a tick fires within this of its time.
const SCHEDULE_TICK_EVERY: Duration = Duration::from_secs(20);

/// Fires due schedules (`bosun job …`) until shutdown. Firing is idempotent per tick, so
/// several bosun processes on one database would still fire each tick once.
async fn run_schedule_ticks(
    db: Db,
    jobs_added: Arc<tokio::sync::Notify>,
    mut shutdown: watch::Receiver<bool>,
) {
    while !*shutdown.borrow() {
        match db.tick_schedules(crate::db::now_ms()).await {
            Ok(fired) if !fired.is_empty() => {
                for (name, tick) in &fired {
                    tracing::info!(job = %name, tick, "scheduled job fired");
                }
                jobs_added.notify_one();
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "could not look at the schedules"),
        }
        tokio::select! {
            _ = tokio::time::sleep(SCHEDULE_TICK_EVERY) => {}
            // A dropped sender is a shutdown too (and would otherwise wake this loop at once).
            changed = shutdown.changed() => if changed.is_err() { return },
        }
    }
}

/// Who bosun is (`GET /app`), asked until GitHub answers: webhooks are still accepted and
/// stored meanwhile, and intake catches up once this returns.
async fn learn_identity(
    github: &GitHub,
    handle: Option<String>,
    mut shutdown: watch::Receiver<bool>,
) -> Option<Identity> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let answer = tokio::select! {
            answer = github.app() => answer,
            _ = shutdown.changed() => return None,
        };
        match answer {
            Ok(app) => {
                let bot_login = app.bot_login();
                // Only the commits' author address needs it: without it they are still the
                // bot's by name, just not linked to its account.
                let bot_user_id = match github.user_id(&bot_login).await {
                    Ok(id) => Some(id),
                    Err(e) => {
                        tracing::warn!(error = %e, bot = %bot_login, "cannot learn the App's bot user id; its commits will not link to it");
                        None
                    }
                };
                return Some(Identity {
                    handle: handle.unwrap_or_else(|| app.slug.clone()),
                    bot_login,
                    bot_user_id,
                });
            }
            Err(e) => {
                let wait = backoff(
                    attempt,
                    Duration::from_secs(1),
                    Duration::from_secs(60),
                    0.0,
                );
                tracing::error!(error = %e, retry_in_s = wait.as_secs(), "cannot ask GitHub who this App is (check GITHUB_APP_ID and the private key)");
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = shutdown.changed() => return None,
                }
            }
        }
    }
}

/// Hourly: drop payloads of handled deliveries after 3 days, forget their ids after 30, and
/// prune finished tasks' run folders (`run::prune_runs`).
async fn upkeep(db: Db, runner: Option<Arc<Runner>>, mut shutdown: watch::Receiver<bool>) {
    const DAY_MS: i64 = 24 * 3600 * 1000;
    loop {
        match db.prune_deliveries(3 * DAY_MS, 30 * DAY_MS).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(rows = n, "pruned old deliveries"),
            Err(e) => tracing::warn!(error = %e, "pruning deliveries failed"),
        }
        if let Some(runner) = &runner {
            let limits = &runner.config.limits;
            let retention = prune_runs::Retention {
                keep: Duration::from_secs(u64::from(limits.runs_keep_days) * 24 * 3600),
                max_bytes: limits.runs_max_gib.saturating_mul(1 << 30),
            };
            match prune_runs::prune(&db, &runner.runs_dir, retention).await {
                Ok((0, _)) => {}
                Ok((n, bytes)) => tracing::info!(folders = n, bytes, "pruned old run folders"),
                Err(e) => tracing::warn!(error = %format!("{e:#}"), "pruning run folders failed"),
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(3600)) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// `bosun serve`: binds, serves until SIGINT/SIGTERM, then stops the engine.
pub async fn serve(config: ServerConfig) -> anyhow::Result<()> {
    let listen = config.listen;
    let public = config.public_url();
    let bosun = Bosun::build(config).await?;
    let listener = tokio::net::TcpListener::bind(listen).await?;
    // The port the system chose when asked for port 0.
    let listen = listener.local_addr().unwrap_or(listen);
    match &*bosun.state.mode() {
        // The code is meant for this log: whoever reads it may create the App (setup_guard).
        Mode::Setup => tracing::info!(
            %listen,
            "no GitHub App configured yet: open {public}/setup and give the set-up code {}",
            bosun.state.setup_guard.code()
        ),
        Mode::Configured(c) => tracing::info!(%listen, app_id = %c.app_id, "listening"),
    }
    bosun.serve_on(listener, shutdown_signal()).await;
    tracing::info!("shutting down");
    bosun.stop(Duration::from_secs(10)).await;
    Ok(())
}

/// Ctrl-C or SIGTERM: the cue for `serve` (and `demo`) to stop gracefully.
pub(crate) async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
