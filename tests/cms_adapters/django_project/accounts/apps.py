from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "tests.cms_adapters.django_project.accounts"
    label = "accounts"
    default_auto_field = "django.db.models.BigAutoField"
