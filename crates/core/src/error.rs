//! The error every core service returns. Each variant carries a sentence a
//! person can act on; front ends show it as is.

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
    Db(#[from] sqlx::Error),
    #[error("database migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("local database: {0}")]
    Cluster(String),
    /// The database cannot be reached (one line, no backtrace).
    #[error("{0}")]
    Unreachable(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// A fault of this program, not of the input (a bad timer payload, a
    /// missing handler, an impossible state read back): logged, never
    /// blamed on the user.
    #[error("internal error: {0}")]
    Internal(String),
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
