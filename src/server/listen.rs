//! Wake-ups across replicas: every replica `LISTEN`s on [`postgres::CHANNEL`], where each
//! saved request is announced (see [`postgres::Postgres`]'s `save`), and wakes the clients
//! waiting on it here, whichever replica took the decision, and the delivery workers, which
//! may claim the notices that save wrote.
//!
//! A notification sent while this connection was down is lost for good (PostgreSQL keeps
//! none for a listener that is not there), so every (re)connection is followed by a wake-up
//! of every waiting client: each re-reads its request and sees any decision it missed.

use std::time::Duration;

use sqlx::postgres::{PgListener, PgPool};

use super::postgres;

/// Follows the channel for as long as the server runs: `wake(Some(id))` for each request
/// saved by any replica, `wake(None)` after each (re)connection.
pub async fn follow(pool: PgPool, wake: impl Fn(Option<&str>) + Send + Sync + 'static) {
    let mut retry = Duration::from_millis(100);
    loop {
        let mut listener = match connect(&pool).await {
            Ok(listener) => listener,
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for decisions taken on other replicas; retrying");
                tokio::time::sleep(retry).await;
                retry = (retry * 2).min(Duration::from_secs(2));
                continue;
            }
        };
        retry = Duration::from_millis(100);
        wake(None);
        loop {
            match listener.try_recv().await {
                Ok(Some(notification)) => wake(Some(notification.payload())),
                // The connection was lost and made again (eager reconnect): re-check all.
                Ok(None) => wake(None),
                Err(e) => {
                    tracing::warn!(error = %e, "lost the connection that listens for decisions taken on other replicas; reconnecting");
                    break;
                }
            }
        }
    }
}

async fn connect(pool: &PgPool) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(postgres::CHANNEL).await?;
    Ok(listener)
}
