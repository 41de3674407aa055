"""Static files: compressed copies under content-hashed names, on every install."""

from django.core.files.storage import FileSystemStorage
from whitenoise.storage import CompressedManifestStaticFilesStorage


class HashedStaticFiles(CompressedManifestStaticFilesStorage):
    """`manage.py collectstatic` (`make demo` runs it) writes each file under a name with its
    content hash, plus gzip (and brotli, when installed) copies; WhiteNoise serves those
    compressed and as immutable, so a second visit downloads none of them. Unlike Django's
    own, the hashed names are used under DEBUG too: the embedded default runs with DEBUG.

    Before any collectstatic (a fresh checkout, the tests) there is no manifest: names stay
    plain and are served from the app folders. With a manifest, a file missing from it is
    an error, as in Django's storage."""

    def url(self, name, force=False):
        if not self.hashed_files:
            return FileSystemStorage.url(self, name)
        return super().url(name, force=True)
