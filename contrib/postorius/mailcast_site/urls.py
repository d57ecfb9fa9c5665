"""URLs: Postorius at the root, accounts (allauth), the user profile and Django's admin."""

from django.contrib import admin
from django.urls import include, path, reverse_lazy
from django.views.generic import RedirectView

urlpatterns = [
    path("", RedirectView.as_view(url=reverse_lazy("list_index"), permanent=False)),
    path("postorius/", include("postorius.urls")),
    path("accounts/", include("allauth.urls")),
    path("", include("django_mailman3.urls")),
    path("admin/", admin.site.urls),
]
