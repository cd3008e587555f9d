//! Wake-ups across replicas: every replica `LISTEN`s on [`postgres::CHANNEL`], where each
//! saved request is announced (see [`postgres::Postgres`]'s `save`), and wakes the clients
//! waiting on it here, whichever replica took the decision, and the delivery workers, which
//! may claim the notices that save wrote. It also listens on [`keys::KEYS_CHANNEL`], where a
//! key rotation is announced, so that every replica loads the new signing key without a
//! restart.
//!
//! A notification sent while this connection was down is lost for good (PostgreSQL keeps
//! none for a listener that is not there), so every (re)connection is followed by a wake-up
//! of every waiting client: each re-reads its request and sees any decision it missed.

use std::time::Duration;

use sqlx::postgres::{PgListener, PgPool};

use super::{keys, postgres};

/// What the listener heard.
pub enum Heard<'a> {
    /// A request saved by any replica.
    Request(&'a str),
    /// A rotation of the signing keys.
    Keys,
    /// The connection was (re)made: anything announced while it was down was missed.
    Reconnected,
}

/// Follows the channels for as long as the server runs.
pub async fn follow(pool: PgPool, wake: impl Fn(Heard) + Send + Sync + 'static) {
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
        wake(Heard::Reconnected);
        loop {
            match listener.try_recv().await {
                Ok(Some(n)) if n.channel() == keys::KEYS_CHANNEL => wake(Heard::Keys),
                Ok(Some(n)) => wake(Heard::Request(n.payload())),
                // The connection was lost and made again (eager reconnect): re-check all.
                Ok(None) => wake(Heard::Reconnected),
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
    listener
        .listen_all([postgres::CHANNEL, keys::KEYS_CHANNEL])
        .await?;
    Ok(listener)
}
