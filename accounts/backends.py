"""Sign-in by username and password (Django's ModelBackend), reading the signed-in user of
each request with the questions every page asks (accounts.signed_in)."""

from __future__ import annotations

from asgiref.sync import sync_to_async
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import AbstractBaseUser

from accounts.signed_in import signed_in_user_read


class SignedInUserBackend(ModelBackend):
    def get_user(self, user_id: object) -> AbstractBaseUser | None:
        user = signed_in_user_read(user_id)
        return user if user is not None and self.user_can_authenticate(user) else None

    async def aget_user(self, user_id: object) -> AbstractBaseUser | None:
        return await sync_to_async(self.get_user)(user_id)
