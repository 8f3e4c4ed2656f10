"""Open the warehouse on the configured MongoDB, or on the embedded server when none is set."""

import pymongo
from loguru import logger

from llm_twin.domain.exceptions import ImproperlyConfigured, StoreUnavailable
from llm_twin.infrastructure.db.warehouse import Warehouse
from llm_twin.settings import Settings, get_settings, mask_uri


def mongo_uri(settings: Settings) -> str:
    """The URI to connect to: ``DATABASE_HOST``, or the embedded server (started if needed)."""
    if not settings.uses_embedded_mongo:
        return settings.storage.database_host.get_secret_value()  # type: ignore[union-attr]
    from llm_twin.infrastructure.db.embedded_mongo import EmbeddedMongo

    server = EmbeddedMongo(
        settings.warehouse_dir, settings.storage.embedded_mongo_port
    ).ensure_running()
    return server.uri


def connect(uri: str, timeout_ms: int = 5000) -> pymongo.MongoClient:
    """A pymongo client that has answered ``ping``; errors never show the password.

    Raises:
        StoreUnavailable: the server did not answer within ``timeout_ms``.
        ImproperlyConfigured: ``uri`` is not a valid MongoDB URI (``DATABASE_HOST``).
    """
    try:
        client: pymongo.MongoClient = pymongo.MongoClient(
            uri, serverSelectionTimeoutMS=timeout_ms, uuidRepresentation="standard", tz_aware=False
        )
    except (pymongo.errors.ConfigurationError, ValueError) as error:
        # pymongo's message may quote the URI with its password: only the kind is shown.
        raise ImproperlyConfigured(
            f"DATABASE_HOST is not a valid MongoDB URI ({type(error).__name__}); expected "
            "mongodb://[user:password@]host[:port]/"
        ) from None
    try:
        client.admin.command("ping")
    except pymongo.errors.PyMongoError as error:
        client.close()
        raise StoreUnavailable(
            f"MongoDB at {mask_uri(uri)} is unreachable ({type(error).__name__})"
        ) from None
    logger.debug("connected to MongoDB at {}", mask_uri(uri))
    return client


class WarehouseConnection:
    """A :class:`Warehouse` with the client that owns it; use as a context manager.

    Args:
        settings: Where to connect; defaults to :func:`get_settings`.
        database: Database name; defaults to ``settings.storage.database_name``.
    """

    def __init__(self, settings: Settings | None = None, database: str | None = None) -> None:
        settings = settings or get_settings()
        self.client = connect(mongo_uri(settings))
        self.warehouse = Warehouse(self.client[database or settings.storage.database_name])

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> Warehouse:
        return self.warehouse

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_warehouse(settings: Settings | None = None) -> WarehouseConnection:
    """Connect to the warehouse (see :class:`WarehouseConnection`)."""
    return WarehouseConnection(settings)
