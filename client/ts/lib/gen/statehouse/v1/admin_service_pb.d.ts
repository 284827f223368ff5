import type { GenEnum, GenFile, GenMessage, GenService } from "@bufbuild/protobuf/codegenv2";
import type { Duration, Timestamp } from "@bufbuild/protobuf/wkt";
import type { Message } from "@bufbuild/protobuf";
/**
 * Describes the file statehouse/v1/admin_service.proto.
 */
export declare const file_statehouse_v1_admin_service: GenFile;
/**
 * Token describes a credential, never its secret.
 *
 * @generated from message statehouse.v1.Token
 */
export type Token = Message<"statehouse.v1.Token"> & {
    /**
     * The credential's unique name; the actor of the changes made with it.
     *
     * @generated from field: string name = 1;
     */
    name: string;
    /**
     * What it may do.
     *
     * @generated from field: statehouse.v1.Role role = 2;
     */
    role: Role;
    /**
     * Where it may do it: exact namespaces, prefix patterns such as `acme.*`
     * (`acme` and every namespace under `acme.`), or `*` for all.
     *
     * @generated from field: repeated string namespaces = 3;
     */
    namespaces: string[];
    /**
     * For a certificate grant: the client-certificate subject it applies to
     * (as in `CN=worker,O=acme`); empty for a bearer token.
     *
     * @generated from field: string certificate_subject = 4;
     */
    certificateSubject: string;
    /**
     * When it was created.
     *
     * @generated from field: google.protobuf.Timestamp create_time = 5;
     */
    createTime?: Timestamp | undefined;
    /**
     * When it stops working; unset: never.
     *
     * @generated from field: google.protobuf.Timestamp expire_time = 6;
     */
    expireTime?: Timestamp | undefined;
    /**
     * When it was revoked; unset: not revoked.
     *
     * @generated from field: google.protobuf.Timestamp revoke_time = 7;
     */
    revokeTime?: Timestamp | undefined;
    /**
     * Who created it.
     *
     * @generated from field: string created_by = 8;
     */
    createdBy: string;
};
/**
 * Describes the message statehouse.v1.Token.
 * Use `create(TokenSchema)` to create a new message.
 */
export declare const TokenSchema: GenMessage<Token>;
/**
 * CreateTokenRequest describes the credential to create.
 *
 * @generated from message statehouse.v1.CreateTokenRequest
 */
export type CreateTokenRequest = Message<"statehouse.v1.CreateTokenRequest"> & {
    /**
     * A unique name: letters, digits and `.-_@:`, at most 64 characters.
     * Required.
     *
     * @generated from field: string name = 1;
     */
    name: string;
    /**
     * The role. Required.
     *
     * @generated from field: statehouse.v1.Role role = 2;
     */
    role: Role;
    /**
     * The namespaces or patterns; at least one. Each must lie within the
     * caller's own.
     *
     * @generated from field: repeated string namespaces = 3;
     */
    namespaces: string[];
    /**
     * How long the credential works; unset: until revoked.
     *
     * @generated from field: google.protobuf.Duration ttl = 4;
     */
    ttl?: Duration | undefined;
    /**
     * Grant the role to this client-certificate subject instead of issuing a
     * bearer token.
     *
     * @generated from field: string certificate_subject = 5;
     */
    certificateSubject: string;
};
/**
 * Describes the message statehouse.v1.CreateTokenRequest.
 * Use `create(CreateTokenRequestSchema)` to create a new message.
 */
export declare const CreateTokenRequestSchema: GenMessage<CreateTokenRequest>;
/**
 * CreateTokenResponse carries the new credential and, for a token, its secret.
 *
 * @generated from message statehouse.v1.CreateTokenResponse
 */
export type CreateTokenResponse = Message<"statehouse.v1.CreateTokenResponse"> & {
    /**
     * The credential.
     *
     * @generated from field: statehouse.v1.Token token = 1;
     */
    token?: Token | undefined;
    /**
     * The bearer token to send as `authorization: Bearer <secret>`. Shown only
     * here: the server keeps a hash of it. Empty for a certificate grant.
     *
     * @generated from field: string secret = 2;
     */
    secret: string;
};
/**
 * Describes the message statehouse.v1.CreateTokenResponse.
 * Use `create(CreateTokenResponseSchema)` to create a new message.
 */
export declare const CreateTokenResponseSchema: GenMessage<CreateTokenResponse>;
/**
 * ListTokensRequest selects credentials.
 *
 * @generated from message statehouse.v1.ListTokensRequest
 */
export type ListTokensRequest = Message<"statehouse.v1.ListTokensRequest"> & {
    /**
     * Also list revoked and expired credentials.
     *
     * @generated from field: bool include_inactive = 1;
     */
    includeInactive: boolean;
};
/**
 * Describes the message statehouse.v1.ListTokensRequest.
 * Use `create(ListTokensRequestSchema)` to create a new message.
 */
export declare const ListTokensRequestSchema: GenMessage<ListTokensRequest>;
/**
 * ListTokensResponse lists credentials by name.
 *
 * @generated from message statehouse.v1.ListTokensResponse
 */
export type ListTokensResponse = Message<"statehouse.v1.ListTokensResponse"> & {
    /**
     * The credentials within the caller's namespaces, by name.
     *
     * @generated from field: repeated statehouse.v1.Token tokens = 1;
     */
    tokens: Token[];
};
/**
 * Describes the message statehouse.v1.ListTokensResponse.
 * Use `create(ListTokensResponseSchema)` to create a new message.
 */
export declare const ListTokensResponseSchema: GenMessage<ListTokensResponse>;
/**
 * RevokeTokenRequest names the credential to revoke.
 *
 * @generated from message statehouse.v1.RevokeTokenRequest
 */
export type RevokeTokenRequest = Message<"statehouse.v1.RevokeTokenRequest"> & {
    /**
     * The credential's name. Required.
     *
     * @generated from field: string name = 1;
     */
    name: string;
};
/**
 * Describes the message statehouse.v1.RevokeTokenRequest.
 * Use `create(RevokeTokenRequestSchema)` to create a new message.
 */
export declare const RevokeTokenRequestSchema: GenMessage<RevokeTokenRequest>;
/**
 * RevokeTokenResponse is the revoked credential.
 *
 * @generated from message statehouse.v1.RevokeTokenResponse
 */
export type RevokeTokenResponse = Message<"statehouse.v1.RevokeTokenResponse"> & {
    /**
     * The credential, with its revoke time.
     *
     * @generated from field: statehouse.v1.Token token = 1;
     */
    token?: Token | undefined;
};
/**
 * Describes the message statehouse.v1.RevokeTokenResponse.
 * Use `create(RevokeTokenResponseSchema)` to create a new message.
 */
export declare const RevokeTokenResponseSchema: GenMessage<RevokeTokenResponse>;
/**
 * GetServerInfoRequest asks for the server's description; it has no fields.
 *
 * @generated from message statehouse.v1.GetServerInfoRequest
 */
export type GetServerInfoRequest = Message<"statehouse.v1.GetServerInfoRequest"> & {};
/**
 * Describes the message statehouse.v1.GetServerInfoRequest.
 * Use `create(GetServerInfoRequestSchema)` to create a new message.
 */
export declare const GetServerInfoRequestSchema: GenMessage<GetServerInfoRequest>;
/**
 * GetServerInfoResponse describes the server process that answered.
 *
 * @generated from message statehouse.v1.GetServerInfoResponse
 */
export type GetServerInfoResponse = Message<"statehouse.v1.GetServerInfoResponse"> & {
    /**
     * The server's version: the version of the statehouse package it runs
     * (as in `0.1.0`).
     *
     * @generated from field: string version = 1;
     */
    version: string;
    /**
     * The database backend: `sqlite` or `postgresql`.
     *
     * @generated from field: string database_backend = 2;
     */
    databaseBackend: string;
    /**
     * The sequence of the newest event committed to the log (0 before the first
     * event). Subscribing with after_sequence set to it receives only what
     * happens next.
     *
     * @generated from field: int64 head_sequence = 3;
     */
    headSequence: bigint;
    /**
     * The oldest sequence still retained in the log (head_sequence + 1 when
     * retention left it empty); a subscription resuming before it gets
     * OUT_OF_RANGE.
     *
     * @generated from field: int64 first_available_sequence = 4;
     */
    firstAvailableSequence: bigint;
    /**
     * When the answering server process started.
     *
     * @generated from field: google.protobuf.Timestamp start_time = 5;
     */
    startTime?: Timestamp | undefined;
    /**
     * The number of server processes sharing the port (`--processes`; 1 for a
     * single process).
     *
     * @generated from field: int32 processes = 6;
     */
    processes: number;
};
/**
 * Describes the message statehouse.v1.GetServerInfoResponse.
 * Use `create(GetServerInfoResponseSchema)` to create a new message.
 */
export declare const GetServerInfoResponseSchema: GenMessage<GetServerInfoResponse>;
/**
 * Role is what a credential may do in its namespaces.
 *
 * @generated from enum statehouse.v1.Role
 */
export declare enum Role {
    /**
     * Not a role; refused.
     *
     * @generated from enum value: ROLE_UNSPECIFIED = 0;
     */
    UNSPECIFIED = 0,
    /**
     * Get, List, Subscribe, FollowExecution, ListMetrics, AggregateMetrics.
     *
     * @generated from enum value: ROLE_READER = 1;
     */
    READER = 1,
    /**
     * A reader that may also create and move executions and task runs and
     * record metrics; everything but deletion and credentials.
     *
     * @generated from enum value: ROLE_WRITER = 2;
     */
    WRITER = 2,
    /**
     * Everything, including DeleteExecution and the AdminService.
     *
     * @generated from enum value: ROLE_ADMIN = 3;
     */
    ADMIN = 3
}
/**
 * Describes the enum statehouse.v1.Role.
 */
export declare const RoleSchema: GenEnum<Role>;
/**
 * AdminService describes the server and manages the credentials that
 * Statehouse issues: bearer tokens and grants for client-certificate subjects.
 * The credential RPCs need the admin role, and an admin manages only
 * credentials whose namespaces lie within its own.
 *
 * @generated from service statehouse.v1.AdminService
 */
export declare const AdminService: GenService<{
    /**
     * Issues a token (its secret is returned once and stored only as a hash),
     * or grants a role to a client-certificate subject.
     *
     * @generated from rpc statehouse.v1.AdminService.CreateToken
     */
    createToken: {
        methodKind: "unary";
        input: typeof CreateTokenRequestSchema;
        output: typeof CreateTokenResponseSchema;
    };
    /**
     * Lists the credentials within the caller's namespaces, without secrets.
     *
     * @generated from rpc statehouse.v1.AdminService.ListTokens
     */
    listTokens: {
        methodKind: "unary";
        input: typeof ListTokensRequestSchema;
        output: typeof ListTokensResponseSchema;
    };
    /**
     * Revokes a credential: every replica refuses it within two seconds.
     *
     * @generated from rpc statehouse.v1.AdminService.RevokeToken
     */
    revokeToken: {
        methodKind: "unary";
        input: typeof RevokeTokenRequestSchema;
        output: typeof RevokeTokenResponseSchema;
    };
    /**
     * Describes the server that answers: its version, its database backend and
     * the extent of its event log. Any caller may ask (with authentication on,
     * any valid credential: the reader role is enough).
     *
     * @generated from rpc statehouse.v1.AdminService.GetServerInfo
     */
    getServerInfo: {
        methodKind: "unary";
        input: typeof GetServerInfoRequestSchema;
        output: typeof GetServerInfoResponseSchema;
    };
}>;
