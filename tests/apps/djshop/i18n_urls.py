"""A URLconf with ``i18n_patterns``, switched on with ``override_settings``."""

from django.conf.urls.i18n import i18n_patterns
from django.urls import path

from djshop import views

urlpatterns = [*i18n_patterns(path("hello/", views.health, name="hello"))]
