import gc
import os
from importlib import import_module

from django.conf import settings
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "costwatch.settings")
application = get_wsgi_application()

# Load the URLconf (every view and the API) now rather than on the first request, then
# leave what is loaded out of the garbage collector's passes (gc.freeze): the full
# collections a big request triggers walked those ~130,000 long-lived objects, 3.4 µs of
# a worker's CPU per event of the ingest API's 1,000-event batches (bench/ingest_view.py).
import_module(settings.ROOT_URLCONF)
gc.freeze()
