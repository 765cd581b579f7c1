"""Request authentication: AK/SK signatures compatible with huaweicloudsdkcore."""
