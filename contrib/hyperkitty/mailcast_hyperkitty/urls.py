"""URLs: HyperKitty under /hyperkitty/ (as in the Mailman suite), accounts and Django's admin."""

from django.contrib import admin
from django.urls import include, path, reverse_lazy
from django.views.generic import RedirectView

urlpatterns = [
    path("", RedirectView.as_view(url=reverse_lazy("hk_root"), permanent=False)),
    path("hyperkitty/", include("hyperkitty.urls")),
    path("accounts/", include("allauth.urls")),
    path("", include("django_mailman3.urls")),
    path("admin/", admin.site.urls),
]
