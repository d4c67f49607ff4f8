from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "django_project.accounts"
    label = "accounts"
