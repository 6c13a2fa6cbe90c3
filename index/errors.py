"""User-facing errors. They are raised anywhere and translated at the edge
(CLI: one line and exit 1; HTTP: a 4xx with a JSON body)."""


class RagdError(Exception):
    """An error the user can act on; its message is shown as is."""


class ConfigError(RagdError):
    """The configuration is invalid."""


class SourceError(RagdError):
    """A path given as a source is missing or unusable."""


class SourceUnavailable(SourceError):
    """A source cannot be read now (its server does not answer, no password): what is indexed from it stays."""


class NothingIndexed(SourceError):
    """A question or a search before anything is indexed (HTTP: 409, not possible yet)."""


class NotInIndex(RagdError):
    """A request named a file that is not indexed (HTTP: 404)."""


class ParseError(Exception):
    """A file could not be parsed; the message is the reason recorded for it."""


class UnsupportedFormat(ParseError):
    """No parser handles this kind of file."""
