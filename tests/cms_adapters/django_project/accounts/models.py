from django.contrib.auth.models import AbstractUser
from django.db import models


class Member(AbstractUser):
    language = models.CharField(max_length=16, blank=True, default="")
