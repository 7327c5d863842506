"""The JWT fixtures of `test_jwt`, for every test of this folder."""

from tests.auth.test_jwt import jwt_client, pem_file

__all__ = ["jwt_client", "pem_file"]
