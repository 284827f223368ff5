package io.statehouse.client;

import com.google.protobuf.Any;
import com.google.protobuf.ByteString;
import com.google.protobuf.CodedInputStream;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.rpc.BadRequest;
import com.google.rpc.PreconditionFailure;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import java.io.IOException;
import java.net.ConnectException;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;

/**
 * A failed call: the gRPC status code and the details the server attached to it.
 *
 * <p>The server answers every refusal with a {@code google.rpc.Status} whose {@code ErrorInfo}
 * (domain {@code statehouse}) names a {@link #reason()} such as {@code INVALID_TRANSITION} or
 * {@code REVISION_MISMATCH}, with {@link #metadata()} ({@code current_state}, {@code
 * current_revision}, ...); a malformed request also carries a {@code BadRequest} ({@link
 * #fieldViolations()}), a refused precondition a {@code PreconditionFailure} ({@link
 * #preconditionViolations()}). The errors table of docs/concepts.md lists every reason.
 *
 * <p>On the error that ends a subscription, {@link #lastSequence()} is the sequence to resume
 * after. When no connection could be made, the message names the address and what to check.
 */
public final class StatehouseException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  /** The ErrorInfo domain of the server's own reasons. */
  public static final String DOMAIN = "statehouse";

  /** One field of the request that was refused, from a {@code google.rpc.BadRequest}. */
  public record FieldViolation(String field, String description) {}

  /** One precondition that failed, from a {@code google.rpc.PreconditionFailure}. */
  public record PreconditionViolation(String type, String subject, String description) {}

  private final Status.Code code;
  private final String reason;
  private final Map<String, String> metadata;
  private final List<FieldViolation> fieldViolations;
  private final List<PreconditionViolation> preconditionViolations;
  private final long lastSequence;

  private StatehouseException(
      String message,
      Status.Code code,
      String reason,
      Map<String, String> metadata,
      List<FieldViolation> fieldViolations,
      List<PreconditionViolation> preconditionViolations,
      long lastSequence,
      Throwable cause) {
    super(message, cause);
    this.code = code;
    this.reason = reason;
    this.metadata = Map.copyOf(metadata);
    this.fieldViolations = List.copyOf(fieldViolations);
    this.preconditionViolations = List.copyOf(preconditionViolations);
    this.lastSequence = lastSequence;
  }

  /** The gRPC status code. */
  public Status.Code code() {
    return code;
  }

  /** The ErrorInfo reason ({@code INVALID_TRANSITION}, ...), or null when there is none. */
  public String reason() {
    return reason;
  }

  /** The ErrorInfo metadata (empty when there is none). */
  public Map<String, String> metadata() {
    return metadata;
  }

  /** The BadRequest's field violations (empty when there are none). */
  public List<FieldViolation> fieldViolations() {
    return fieldViolations;
  }

  /** The PreconditionFailure's violations (empty when there are none). */
  public List<PreconditionViolation> preconditionViolations() {
    return preconditionViolations;
  }

  /**
   * On the error that ends a subscription: the last sequence it received (resume with {@code
   * afterSequence} set to it); empty elsewhere, and when a {@code fromLatest} subscription had not
   * started.
   */
  public OptionalLong lastSequence() {
    return lastSequence < 0 ? OptionalLong.empty() : OptionalLong.of(lastSequence);
  }

  /** Whether the status is UNAVAILABLE: the server is unreachable or shutting down. */
  public boolean isUnavailable() {
    return code == Status.Code.UNAVAILABLE;
  }

  /** This error carrying the sequence a subscription ended at. */
  StatehouseException withLastSequence(OptionalLong sequence) {
    return new StatehouseException(
        getMessage(),
        code,
        reason,
        metadata,
        fieldViolations,
        preconditionViolations,
        sequence.orElse(-1),
        getCause());
  }

  @Override
  public String toString() {
    return "StatehouseException("
        + code
        + (reason == null ? "" : "/" + reason)
        + "): "
        + getMessage();
  }

  /** The error of a failed call ({@code target}: the address, named when none could be made). */
  public static StatehouseException from(StatusRuntimeException error, String target) {
    return from(error.getStatus(), error.getTrailers(), target);
  }

  /** The error of a status and its trailers. */
  public static StatehouseException from(Status status, Metadata trailers, String target) {
    Status.Code code = status.getCode();
    String message = status.getDescription();
    String reason = null;
    Map<String, String> metadata = new LinkedHashMap<>();
    List<FieldViolation> fields = new ArrayList<>();
    List<PreconditionViolation> preconditions = new ArrayList<>();
    com.google.rpc.Status rich = trailers == null ? null : StatusProto.fromStatusAndTrailers(status, trailers);
    if (rich != null && !rich.getDetailsList().isEmpty()) {
      if (!rich.getMessage().isEmpty()) {
        message = rich.getMessage();
      }
      for (Any detail : rich.getDetailsList()) {
        try {
          if (detail.getTypeUrl().endsWith("/" + ERROR_INFO)) {
            ErrorInfo info = ErrorInfo.parse(detail.getValue());
            if (reason == null || DOMAIN.equals(info.domain())) {
              reason = info.reason().isEmpty() ? null : info.reason();
              metadata = new LinkedHashMap<>(info.metadata());
            }
          } else if (detail.is(BadRequest.class)) {
            for (BadRequest.FieldViolation v : detail.unpack(BadRequest.class).getFieldViolationsList()) {
              fields.add(new FieldViolation(v.getField(), v.getDescription()));
            }
          } else if (detail.is(PreconditionFailure.class)) {
            for (PreconditionFailure.Violation v :
                detail.unpack(PreconditionFailure.class).getViolationsList()) {
              preconditions.add(
                  new PreconditionViolation(v.getType(), v.getSubject(), v.getDescription()));
            }
          }
        } catch (InvalidProtocolBufferException malformed) {
          // A detail that does not decode is left out; the status still stands.
        }
      }
    } else if (code == Status.Code.UNAVAILABLE && status.getCause() != null) {
      message = unreachable(status.getCause(), target, message);
    }
    if (message == null || message.isEmpty()) {
      message = code.name();
    }
    return new StatehouseException(
        message, code, reason, metadata, fields, preconditions, -1, status.asRuntimeException(trailers));
  }

  private static final String ERROR_INFO = "google.rpc.ErrorInfo";

  /**
   * A {@code google.rpc.ErrorInfo}, decoded here: Debian's proto-google-common-protos (1.16)
   * predates it, and its three fields do not warrant a second copy of google.rpc's classes.
   */
  private record ErrorInfo(String reason, String domain, Map<String, String> metadata) {
    static ErrorInfo parse(ByteString bytes) throws InvalidProtocolBufferException {
      String reason = "";
      String domain = "";
      Map<String, String> metadata = new LinkedHashMap<>();
      try {
        CodedInputStream in = bytes.newCodedInput();
        for (int tag = in.readTag(); tag != 0; tag = in.readTag()) {
          switch (tag) {
            case (1 << 3) | 2 -> reason = in.readStringRequireUtf8();
            case (2 << 3) | 2 -> domain = in.readStringRequireUtf8();
            case (3 << 3) | 2 -> {
              CodedInputStream entry = in.readBytes().newCodedInput();
              String key = "";
              String value = "";
              for (int t = entry.readTag(); t != 0; t = entry.readTag()) {
                switch (t) {
                  case (1 << 3) | 2 -> key = entry.readStringRequireUtf8();
                  case (2 << 3) | 2 -> value = entry.readStringRequireUtf8();
                  default -> entry.skipField(t);
                }
              }
              metadata.put(key, value);
            }
            default -> in.skipField(tag);
          }
        }
      } catch (InvalidProtocolBufferException e) {
        throw e;
      } catch (IOException e) {
        throw new InvalidProtocolBufferException(e);
      }
      return new ErrorInfo(reason, domain, metadata);
    }
  }

  /** gRPC's "io exception" of a channel that could not connect, in words that say what to check. */
  private static String unreachable(Throwable cause, String target, String message) {
    String where = target == null ? "the configured address" : target;
    for (Throwable t = cause; t != null; t = t.getCause()) {
      if (t instanceof ConnectException) {
        return "cannot reach the Statehouse server at " + where + " (connection refused): is it running there?";
      }
      if (t instanceof UnknownHostException) {
        return "cannot reach the Statehouse server at " + where + " (no such host): is the host name right?";
      }
      if (t instanceof javax.net.ssl.SSLException) {
        return "TLS handshake with the Statehouse server at "
            + where
            + " failed ("
            + t.getMessage()
            + "): check its certificate, the CA you trust and the server name";
      }
    }
    return message;
  }
}
