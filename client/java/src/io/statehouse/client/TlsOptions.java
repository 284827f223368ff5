package io.statehouse.client;

import java.nio.file.Path;
import java.util.Map;

/**
 * TLS for the channel: whom to trust and, for mutual TLS, who the client is.
 *
 * @param ca the PEM file of the CA certificates that sign the server's certificate (null: the
 *     system's roots)
 * @param certificateChain the client's certificate chain (PEM), for a server that asks for one
 *     ({@code --tls-client-ca}); with {@code privateKey}, or null
 * @param privateKey the client's private key (PEM, PKCS#8: {@code BEGIN PRIVATE KEY})
 * @param serverName the name to check the server's certificate for, when it differs from the host
 *     of the target (e.g. connecting by IP address to a certificate issued for {@code localhost});
 *     null: the target's host
 */
public record TlsOptions(Path ca, Path certificateChain, Path privateKey, String serverName) {

  /** TLS with this CA bundle when the builder is given no TLS options. */
  public static final String CA_ENV = "STATEHOUSE_TLS_CA";
  /** mTLS: the client certificate chain, when the builder is given no TLS options. */
  public static final String CERT_ENV = "STATEHOUSE_TLS_CERT";
  /** mTLS: the client's private key, when the builder is given no TLS options. */
  public static final String KEY_ENV = "STATEHOUSE_TLS_KEY";

  /** Checks that a certificate and its key go together. */
  public TlsOptions {
    if ((certificateChain == null) != (privateKey == null)) {
      throw new IllegalArgumentException("a client certificate and its key go together");
    }
  }

  /** TLS trusting the system's roots. */
  public static TlsOptions systemRoots() {
    return new TlsOptions(null, null, null, null);
  }

  /** TLS trusting the CA certificates of this PEM file. */
  public static TlsOptions trusting(Path ca) {
    return new TlsOptions(ca, null, null, null);
  }

  /** These options presenting a client certificate (mutual TLS). */
  public TlsOptions withClientCertificate(Path chain, Path key) {
    return new TlsOptions(ca, chain, key, serverName);
  }

  /** These options checking the server's certificate for {@code name}. */
  public TlsOptions withServerName(String name) {
    return new TlsOptions(ca, certificateChain, privateKey, name);
  }

  /**
   * What {@code STATEHOUSE_TLS_CA}, {@code _CERT} and {@code _KEY} ask for, or null when none is
   * set.
   */
  public static TlsOptions fromEnvironment(Map<String, String> env) {
    String ca = nonEmpty(env.get(CA_ENV));
    String cert = nonEmpty(env.get(CERT_ENV));
    String key = nonEmpty(env.get(KEY_ENV));
    if (ca == null && cert == null && key == null) {
      return null;
    }
    if ((cert == null) != (key == null)) {
      throw new IllegalArgumentException("$" + CERT_ENV + " and $" + KEY_ENV + " go together");
    }
    return new TlsOptions(
        ca == null ? null : Path.of(ca),
        cert == null ? null : Path.of(cert),
        key == null ? null : Path.of(key),
        null);
  }

  private static String nonEmpty(String value) {
    return value == null || value.isEmpty() ? null : value;
  }
}
