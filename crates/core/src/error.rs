//! The error every core service returns. Each variant carries a sentence a
//! person can act on; front ends show it as is — except [`Error::Internal`],
//! a fault of this program or of its stored data, which front ends log and
//! replace with a generic sentence.

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The input is malformed or the move is not allowed in this state.
    #[error("{0}")]
    Invalid(String),
    /// The thing named does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The actor lacks the role for this action.
    #[error("{0}")]
    Forbidden(String),
    /// Already done, or done concurrently by someone else.
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// The database schema does not match this binary.
    #[error("{0}")]
    Schema(String),
    #[error("database: {0}")]
    Db(sqlx::Error),
    #[error("database migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("local database: {0}")]
    Cluster(String),
    /// The database cannot be reached (one line, no backtrace).
    #[error("{0}")]
    Unreachable(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// A fault of the program or of its stored data, not of the input: a
    /// timer whose payload this binary cannot read, a timer kind without a
    /// handler, a state in the database no state machine knows. Logged, never
    /// shown to a user as if they had made a mistake.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<sqlx::Error> for Error {
    /// A value read back that this binary cannot understand (a state no
    /// state machine knows) is a fault of the program or its data, not a
    /// database outage.
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::ColumnDecode { index, source } => {
                Error::Internal(format!("column {index}: {source}"))
            }
            sqlx::Error::Decode(source) => Error::Internal(source.to_string()),
            other => Error::Db(other),
        }
    }
}

impl Error {
    pub fn invalid(msg: impl Into<String>) -> Self {
        Self::Invalid(msg.into())
    }
    pub fn not_found(msg: impl Into<String>) -> Self {
        Self::NotFound(msg.into())
    }
    pub fn forbidden(msg: impl Into<String>) -> Self {
        Self::Forbidden(msg.into())
    }
    pub fn conflict(msg: impl Into<String>) -> Self {
        Self::Conflict(msg.into())
    }
    pub fn internal(msg: impl Into<String>) -> Self {
        Self::Internal(msg.into())
    }

    /// A short machine-readable kind for JSON replies and exit codes.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Invalid(_) => "invalid",
            Self::NotFound(_) => "not_found",
            Self::Forbidden(_) => "forbidden",
            Self::Conflict(_) => "conflict",
            Self::Config(_) => "config",
            Self::Schema(_) => "schema",
            Self::Db(_) | Self::Migrate(_) => "database",
            Self::Cluster(_) => "cluster",
            Self::Unreachable(_) => "unreachable",
            Self::Io(_) => "io",
            Self::Internal(_) => "internal",
        }
    }

    /// True when the input was at fault (the caller should not retry).
    pub fn is_user_error(&self) -> bool {
        matches!(
            self,
            Self::Invalid(_) | Self::NotFound(_) | Self::Forbidden(_) | Self::Conflict(_)
        )
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_internal_fault_is_not_the_users() {
        let e = Error::internal("timer 7 has no escalation_id");
        assert_eq!(e.kind(), "internal");
        assert!(!e.is_user_error());
        assert_eq!(
            e.to_string(),
            "internal error: timer 7 has no escalation_id"
        );
        assert!(Error::invalid("no").is_user_error());
    }
}
