from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse
from django.urls import path

from middleware.django import bridge_decision


def home(request: HttpRequest) -> HttpResponse:
    who = request.user.get_username() if request.user.is_authenticated else "anonymous"
    return HttpResponse(f"<html><body><p>free page for {who}</p></body></html>")


def premium(request: HttpRequest, rest: str) -> HttpResponse:
    response = HttpResponse("<html><body><p>member-only content</p></body></html>")
    response["Cache-Control"] = "public, max-age=600"
    return response


def decision(request: HttpRequest) -> HttpResponse:
    found = bridge_decision(request)
    return HttpResponse(found.describe() if found else "none", content_type="text/plain")


urlpatterns = [
    path("", home),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("premium/decision", decision),
    path("premium/<path:rest>", premium),
]
