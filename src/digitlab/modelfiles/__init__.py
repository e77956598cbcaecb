"""modelfiles"""
