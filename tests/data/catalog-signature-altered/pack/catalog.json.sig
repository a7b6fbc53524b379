{
  "schema": "sct.signature.v1",
  "signatures": [
    {
      "key_id": "65f5bfd9bed9b76f",
      "algorithm": "ed25519",
      "signature": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=="
    }
  ]
}